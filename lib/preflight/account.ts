/**
 * Who the credentials are and whether the account is bootstrapped for this aws-cdk-lib: the two
 * things every `cdk deploy` needs before it creates anything.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { BootstrapRequirement } from './bootstrap-version.ts';
import type { PreflightInputs } from './inputs.ts';
import { errorRow, fail, pass, type Row, warn } from './report.ts';

export interface IdentityResult {
  readonly row: Row;
  /** The credentials' account, when STS answered. */
  readonly account?: string;
  /** The STS error, so the caller can stop early when there are no credentials at all. */
  readonly error?: unknown;
}

/** STS GetCallerIdentity needs no permission, so a failure here is about credentials. */
export async function checkIdentity(
  sts: Pick<STSClient, 'send'>,
  inputs: PreflightInputs,
): Promise<IdentityResult> {
  const check = 'account';
  let account: string | undefined;
  let arn: string | undefined;
  try {
    ({ Account: account, Arn: arn } = await sts.send(new GetCallerIdentityCommand({})));
  } catch (error) {
    return { row: errorRow(check, 'sts:GetCallerIdentity', error), error };
  }
  if (account === undefined) {
    return {
      row: fail(
        check,
        'STS returned no account id',
        'rerun; check the credentials with aws sts get-caller-identity',
      ),
    };
  }
  const who = `account ${account}, region ${inputs.region}, as ${arn ?? 'unknown principal'}`;
  if (inputs.account !== undefined && inputs.account !== account) {
    return {
      account,
      row: fail(
        check,
        `the credentials are for account ${account}, but stage ${inputs.stage} pins env.account ${inputs.account}`,
        `use credentials for ${inputs.account} (e.g. AWS_PROFILE=<its profile>), or correct env.account in config/stages/${inputs.stage}.json`,
      ),
    };
  }
  return { account, row: pass(check, who) };
}

/** The bootstrap stack (CDKToolkit) writes its template version to an SSM parameter. */
export async function checkBootstrap(
  ssm: Pick<SSMClient, 'send'>,
  inputs: PreflightInputs,
  required: BootstrapRequirement,
  account: string | undefined,
): Promise<Row> {
  const check = 'cdk bootstrap';
  const bootstrap = `npx cdk bootstrap aws://${account ?? inputs.account ?? '<account>'}/${inputs.region}`;
  let value: string | undefined;
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: required.parameterName }));
    value = Parameter?.Value;
  } catch (err) {
    if (err instanceof Error && err.name === 'ParameterNotFound') {
      return fail(
        check,
        `${inputs.region} is not bootstrapped: there is no SSM parameter ${required.parameterName}`,
        `run ${bootstrap}`,
      );
    }
    return errorRow(check, 'ssm:GetParameter', err);
  }
  const version = Number(value);
  const needs = `aws-cdk-lib ${required.cdkLibVersion} needs >= ${required.deploy} to deploy, >= ${required.lookup} for the lookup role`;
  if (!Number.isInteger(version)) {
    return fail(
      check,
      `${required.parameterName} holds ${JSON.stringify(value)}, not a version number`,
      `run ${bootstrap} to rewrite it`,
    );
  }
  if (version < required.deploy) {
    return fail(
      check,
      `bootstrap version ${version} is too old: ${needs}`,
      `run ${bootstrap} (upgrades the CDKToolkit stack in place)`,
    );
  }
  if (version < required.lookup) {
    return warn(
      check,
      `bootstrap version ${version}: deploys work, but ${needs}, so cdk diff falls back to your own credentials`,
      `run ${bootstrap} (upgrades the CDKToolkit stack in place)`,
    );
  }
  return pass(check, `bootstrap version ${version} (${needs})`);
}
