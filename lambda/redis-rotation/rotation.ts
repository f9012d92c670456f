/**
 * Secrets Manager rotation of the ElastiCache AUTH token without downtime, in the four steps
 * Secrets Manager calls:
 *
 * 1. createSecret: generate a new token as the AWSPENDING version.
 * 2. setSecret:    ModifyReplicationGroup with AuthTokenUpdateStrategy ROTATE. ElastiCache then
 *                  accepts both the old and the new token, so every client keeps working.
 * 3. testSecret:   check that the group is `available` and that its token changed after the
 *                  pending version was created (the rotation Lambda has no network path to
 *                  Redis: its security group admits only the gateway and the session manager).
 * 4. finishSecret: move AWSCURRENT to the new version, then ModifyReplicationGroup with
 *                  strategy SET and the new token, after which only the new token works.
 *
 * Clients that still hold the old token get WRONGPASS on their next connection, re-read
 * AWSCURRENT and reconnect (`@axon/runtime/redis`). No token is ever logged.
 */
import {
  DescribeReplicationGroupsCommand,
  type ElastiCacheClient,
  ModifyReplicationGroupCommand,
  type ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
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
  readonly elasticache: Pick<ElastiCacheClient, 'send'>;
  readonly replicationGroupId: string;
  readonly log: Log;
  /** Length of generated tokens. @default 64 */
  readonly tokenLength?: number;
  /** Pause between DescribeReplicationGroups polls. @default 15000 */
  readonly pollIntervalMs?: number;
  /** Time budget of one step for waiting on the group. @default 13 minutes */
  readonly waitTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const FAILED_STATES = new Set(['create-failed', 'deleting', 'deleted']);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs one rotation step; safe to call again for a step that already ran. */
export async function rotate(event: RotationEvent, deps: RotationDeps): Promise<void> {
  const version = await versionToRotate(event, deps);
  if (!version) return;
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  deps.log.info('rotation step', { step, secretId, replicationGroupId: deps.replicationGroupId });
  switch (step) {
    case 'createSecret':
      return createSecret(secretId, token, deps);
    case 'setSecret':
      return setSecret(secretId, token, deps);
    case 'testSecret':
      return testSecret(secretId, token, deps);
    case 'finishSecret':
      return finishSecret(secretId, token, version.versions, deps);
  }
}

/**
 * Checks the event against the secret's versions, as every rotation function must: rotation on,
 * the version known and AWSPENDING (or AWSCURRENT at finishSecret, which still makes sure the
 * old credential was dropped after a retry). Undefined: nothing to do for this step.
 */
export async function versionToRotate(
  event: RotationEvent,
  deps: Pick<RotationDeps, 'secrets' | 'log'>,
): Promise<{ versions: Record<string, string[]> } | undefined> {
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
  if (isCurrent && step !== 'finishSecret') {
    deps.log.info('version is already AWSCURRENT; nothing to do', { step, secretId });
    return undefined;
  }
  return { versions: meta.VersionIdsToStages ?? {} };
}

export async function createSecret(
  secretId: string,
  token: string,
  deps: Pick<RotationDeps, 'secrets' | 'log' | 'tokenLength'>,
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
  const random = await deps.secrets.send(
    new GetRandomPasswordCommand({
      PasswordLength: deps.tokenLength ?? 64,
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

export async function setSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
): Promise<void> {
  const deadline = deadlineOf(deps);
  const pending = await readVersion(secretId, token, deps, 'AWSPENDING');
  const created = await versionCreated(secretId, token, deps);
  const group = await waitUntilAvailable(deps, deadline);
  if (tokenChangedSince(group, created)) {
    // A retry after ROTATE went through: ROTATE again would drop the old token clients still use.
    deps.log.info('pending token already applied', { replicationGroupId: deps.replicationGroupId });
    return;
  }
  await deps.elasticache.send(
    new ModifyReplicationGroupCommand({
      ReplicationGroupId: deps.replicationGroupId,
      AuthToken: pending,
      AuthTokenUpdateStrategy: 'ROTATE',
      ApplyImmediately: true,
    }),
  );
  await waitUntilAvailable(deps, deadline);
}

export async function testSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
): Promise<void> {
  const group = await describeGroup(deps);
  if (group.Status !== 'available') {
    throw new RotationError(
      `replication group ${deps.replicationGroupId} is ${group.Status}, not available`,
    );
  }
  if (!group.AuthTokenEnabled) {
    throw new RotationError(
      `replication group ${deps.replicationGroupId} does not have AUTH enabled`,
    );
  }
  const created = await versionCreated(secretId, token, deps);
  if (!tokenChangedSince(group, created)) {
    throw new RotationError(
      `replication group ${deps.replicationGroupId} has not taken the pending token yet (token last changed ${group.AuthTokenLastModifiedDate?.toISOString() ?? 'never'})`,
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
  if (current !== token) {
    await deps.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        ...(current && { RemoveFromVersionId: current }),
      }),
    );
  }
  const deadline = deadlineOf(deps);
  const value = await readVersion(secretId, token, deps);
  await waitUntilAvailable(deps, deadline);
  await deps.elasticache.send(
    new ModifyReplicationGroupCommand({
      ReplicationGroupId: deps.replicationGroupId,
      AuthToken: value,
      AuthTokenUpdateStrategy: 'SET',
      ApplyImmediately: true,
    }),
  );
  await waitUntilAvailable(deps, deadline);
}

export async function readVersion(
  secretId: string,
  token: string,
  deps: Pick<RotationDeps, 'secrets'>,
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

async function describeGroup(deps: RotationDeps): Promise<ReplicationGroup> {
  const out = await deps.elasticache.send(
    new DescribeReplicationGroupsCommand({ ReplicationGroupId: deps.replicationGroupId }),
  );
  const group = out.ReplicationGroups?.[0];
  if (!group) throw new RotationError(`replication group ${deps.replicationGroupId} not found`);
  return group;
}

async function versionCreated(secretId: string, token: string, deps: RotationDeps): Promise<Date> {
  const out = await deps.secrets.send(new ListSecretVersionIdsCommand({ SecretId: secretId }));
  const created = out.Versions?.find((v) => v.VersionId === token)?.CreatedDate;
  if (!created) throw new RotationError(`version ${token} of ${secretId} has no creation date`);
  return created;
}

/** ElastiCache stamps the token change; a stamp at or after the version's birth is our token. */
function tokenChangedSince(group: ReplicationGroup, created: Date): boolean {
  const changed = group.AuthTokenLastModifiedDate;
  return changed !== undefined && changed.getTime() >= created.getTime();
}

function deadlineOf(deps: RotationDeps): number {
  return (deps.now ?? Date.now)() + (deps.waitTimeoutMs ?? 13 * 60_000);
}

/** Polls until the group is `available`: ElastiCache refuses a modification while one runs. */
export async function waitUntilAvailable(
  deps: RotationDeps,
  deadline: number,
): Promise<ReplicationGroup> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  for (;;) {
    const group = await describeGroup(deps);
    if (group.Status === 'available') return group;
    if (group.Status && FAILED_STATES.has(group.Status)) {
      throw new RotationError(`replication group ${deps.replicationGroupId} is ${group.Status}`);
    }
    if (now() >= deadline) {
      throw new RotationError(
        `replication group ${deps.replicationGroupId} still ${group.Status} at the step's deadline; Secrets Manager retries the rotation`,
      );
    }
    await sleep(deps.pollIntervalMs ?? 15_000);
  }
}
