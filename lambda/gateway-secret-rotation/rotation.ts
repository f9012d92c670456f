/**
 * Secrets Manager rotation of the gateway-to-session-manager secret, in the four steps Secrets
 * Manager calls:
 *
 * 1. createSecret: generate a new value as the AWSPENDING version.
 * 2. setSecret:    nothing to do. No service holds a copy to update: the gateway and the session
 *                  manager read the value from Secrets Manager itself.
 * 3. testSecret:   check that the pending value is there and long enough for the session manager
 *                  (which refuses to start on a value under 16 characters). It cannot be tried
 *                  against the session manager: the rotation Lambda has no network path to it.
 * 4. finishSecret: move AWSCURRENT to the new version; Secrets Manager labels the old one
 *                  AWSPREVIOUS.
 *
 * No downtime, because the readers meet halfway: the session manager accepts AWSCURRENT and
 * AWSPREVIOUS (re-reading both when a presented value matches neither), and the gateway re-reads
 * AWSCURRENT and retries once when the session manager answers 401. No value is ever logged.
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
import type { Log } from '#shared/logger';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** The event Secrets Manager sends to a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

export interface RotationDeps {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly log: Log;
  /** Length of generated values. @default 64 */
  readonly secretLength?: number;
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

/** The session manager refuses a shorter secret (services/session-manager gateway-secret.ts). */
export const MIN_SECRET_LENGTH = 16;

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** Runs one rotation step; safe to call again for a step that already ran. */
export async function rotate(event: RotationEvent, deps: RotationDeps): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  if (!STEPS.includes(step))
    throw new RotationError(`unknown rotation step ${JSON.stringify(step)}`);

  const meta = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (!meta.RotationEnabled)
    throw new RotationError(`secret ${secretId} does not have rotation enabled`);
  const versions = meta.VersionIdsToStages ?? {};
  const stages = versions[token];
  if (!stages) throw new RotationError(`secret ${secretId} has no version ${token}`);
  if (stages.includes('AWSCURRENT')) {
    deps.log.info('version is already AWSCURRENT; nothing to do', { step, secretId });
    return;
  }
  if (!stages.includes('AWSPENDING')) {
    throw new RotationError(`version ${token} of ${secretId} is not AWSPENDING`);
  }

  deps.log.info('rotation step', { step, secretId });
  switch (step) {
    case 'createSecret':
      return createSecret(secretId, token, deps);
    case 'setSecret':
      // Nothing holds a copy of the value to update: both readers fetch it from Secrets Manager.
      return;
    case 'testSecret':
      return testSecret(secretId, token, deps);
    case 'finishSecret':
      return finishSecret(secretId, token, versions, deps);
  }
}

export async function createSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
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
  const length = deps.secretLength ?? 64;
  if (length < MIN_SECRET_LENGTH) {
    throw new RotationError(`secret length must be at least ${MIN_SECRET_LENGTH}, got ${length}`);
  }
  // Letters and digits only: the value travels as an HTTP header and must not need escaping.
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

export async function testSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
): Promise<void> {
  const out = await deps.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }),
  );
  const value = out.SecretString ?? '';
  if (value.length < MIN_SECRET_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new RotationError(
      `pending version ${token} of ${secretId} is not a usable header value of at least ${MIN_SECRET_LENGTH} printable characters`,
    );
  }
}

export async function finishSecret(
  secretId: string,
  token: string,
  versions: Record<string, string[]>,
  deps: RotationDeps,
): Promise<void> {
  const current = Object.entries(versions).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  // Secrets Manager moves AWSPREVIOUS to the version AWSCURRENT leaves.
  await deps.secrets.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: token,
      ...(current && { RemoveFromVersionId: current }),
    }),
  );
}
