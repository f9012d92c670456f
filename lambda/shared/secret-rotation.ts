/**
 * The part of a Secrets Manager rotation function that does not depend on what the secret
 * unlocks, written once for the Redis AUTH token, the Redis RBAC user password and the gateway
 * secret: the event, the checks every rotation function must make on it, creating the
 * AWSPENDING value, moving AWSCURRENT, and dispatching the four steps. Each rotation keeps only
 * what is its own (how the new value reaches the service, and how it is tested).
 *
 * Every step may run more than once (Secrets Manager retries a failed step), so each helper here
 * is safe to run again. No secret value is ever logged.
 */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Log } from './logger.ts';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** The event Secrets Manager sends to a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

/** Version id to its staging labels, as DescribeSecret returns them. */
export type VersionStages = Record<string, string[]>;

/** What the generic steps need: the Secrets Manager client, narrowed, and a logger. */
export interface SecretRotationDeps {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly log: Log;
}

/** A rotation that cannot go on; Secrets Manager records the failure and retries the step. */
export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export interface VersionCheckOptions {
  /**
   * Run finishSecret again when the version is already AWSCURRENT. A rotation that still acts
   * after moving the label (the Redis ones drop the old credential then) needs this, so that a
   * retry after a failure past the move completes the work.
   * @default false - a current version means there is nothing left to do in any step
   */
  readonly finishWhenCurrent?: boolean;
}

/**
 * Checks the event against the secret's versions, as every rotation function must: a known step,
 * rotation on, the version known and AWSPENDING (or AWSCURRENT, see `finishWhenCurrent`).
 * Undefined: nothing to do for this step.
 */
export async function versionToRotate(
  event: RotationEvent,
  deps: SecretRotationDeps,
  options: VersionCheckOptions = {},
): Promise<{ versions: VersionStages } | undefined> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  if (!STEPS.includes(step))
    throw new RotationError(`unknown rotation step ${JSON.stringify(step)}`);

  const meta = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (!meta.RotationEnabled)
    throw new RotationError(`secret ${secretId} does not have rotation enabled`);
  const stages = meta.VersionIdsToStages?.[token];
  if (!stages) throw new RotationError(`secret ${secretId} has no version ${token}`);
  const isCurrent = stages.includes('AWSCURRENT');
  if (!isCurrent && !stages.includes('AWSPENDING')) {
    throw new RotationError(`version ${token} of ${secretId} is neither AWSPENDING nor AWSCURRENT`);
  }
  if (isCurrent && !(step === 'finishSecret' && options.finishWhenCurrent)) {
    deps.log.info('version is already AWSCURRENT; nothing to do', { step, secretId });
    return undefined;
  }
  return { versions: meta.VersionIdsToStages ?? {} };
}

/** One step's work, given the checked event. */
export interface StepInput {
  readonly secretId: string;
  readonly token: string;
  readonly versions: VersionStages;
}

/**
 * What is a rotation's own: how createSecret makes the value (the step itself is the same for
 * all), and the three steps that carry it to the service and check it there.
 */
export interface RotationSteps extends VersionCheckOptions {
  readonly create: CreateSecretOptions;
  readonly setSecret: (input: StepInput) => Promise<void>;
  readonly testSecret: (input: StepInput) => Promise<void>;
  readonly finishSecret: (input: StepInput) => Promise<void>;
  /** Names (never values) added to the step's log line, e.g. the replication group. */
  readonly logFields?: Record<string, unknown>;
}

/**
 * Checks the event (versionToRotate), logs the step and runs it: createSecret here, the other
 * steps through `steps`. Each rotation function's `rotate` is this call with its own steps.
 */
export async function runRotationStep(
  event: RotationEvent,
  deps: SecretRotationDeps,
  steps: RotationSteps,
): Promise<void> {
  const version = await versionToRotate(event, deps, steps);
  if (!version) return;
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  deps.log.info('rotation step', { step, secretId, ...steps.logFields });
  if (step === 'createSecret') return createSecret(secretId, token, deps, steps.create);
  await steps[step]({ secretId, token, versions: version.versions });
}

export interface CreateSecretOptions {
  /** Length of the generated value. */
  readonly length: number;
  /**
   * Refuse a shorter `length` before generating, for a reader that would refuse the value.
   * @default - no check beyond GetRandomPassword's own
   */
  readonly minLength?: number;
}

/**
 * createSecret: a random value of letters and digits as the AWSPENDING version, unless that
 * version already exists (a retry keeps the value it made the first time). Letters and digits
 * only, so the value needs no escaping as an AUTH token, an ACL password or an HTTP header.
 */
export async function createSecret(
  secretId: string,
  token: string,
  deps: SecretRotationDeps,
  options: CreateSecretOptions,
): Promise<void> {
  // Fails loudly when there is no current version to rotate from.
  await deps.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
  );
  try {
    await deps.secrets.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        VersionId: token,
        VersionStage: 'AWSPENDING',
      }),
    );
    deps.log.info('pending version already exists', { secretId });
    return;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  const { length, minLength } = options;
  if (minLength !== undefined && length < minLength) {
    throw new RotationError(`secret length must be at least ${minLength}, got ${length}`);
  }
  const random = await deps.secrets.send(
    new GetRandomPasswordCommand({
      PasswordLength: length,
      ExcludePunctuation: true,
      IncludeSpace: false,
      RequireEachIncludedType: true,
    }),
  );
  if (!random.RandomPassword) throw new RotationError('GetRandomPassword returned no password');
  await deps.secrets.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: random.RandomPassword,
      VersionStages: ['AWSPENDING'],
    }),
  );
}

/** The version AWSCURRENT is on, if any. */
export function currentVersion(versions: VersionStages): string | undefined {
  return Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
}

/**
 * finishSecret's label move: AWSCURRENT to `token`, unless it is there already (a retry).
 * Secrets Manager moves AWSPREVIOUS to the version AWSCURRENT leaves.
 */
export async function makeCurrent(
  secretId: string,
  token: string,
  versions: VersionStages,
  deps: Pick<SecretRotationDeps, 'secrets'>,
): Promise<void> {
  const current = currentVersion(versions);
  if (current === token) return;
  await deps.secrets.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: token,
      ...(current && { RemoveFromVersionId: current }),
    }),
  );
}

/** The value of version `token`, optionally only if it carries `stage`. */
export async function readVersion(
  secretId: string,
  token: string,
  deps: Pick<SecretRotationDeps, 'secrets'>,
  stage?: string,
): Promise<string> {
  const value = await deps.secrets.send(
    new GetSecretValueCommand({
      SecretId: secretId,
      VersionId: token,
      ...(stage && { VersionStage: stage }),
    }),
  );
  if (!value.SecretString)
    throw new RotationError(`version ${token} of ${secretId} has no SecretString`);
  return value.SecretString;
}

/** AWSCURRENT's value, found through the version map (GetSecretValue by stage alone). */
export async function readCurrent(
  secretId: string,
  versions: VersionStages,
  deps: Pick<SecretRotationDeps, 'secrets'>,
): Promise<string> {
  const current = currentVersion(versions);
  if (!current) throw new RotationError(`secret ${secretId} has no AWSCURRENT version`);
  return readVersion(secretId, current, deps);
}
