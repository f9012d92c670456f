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
import { ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import {
  makeCurrent,
  RotationError,
  type RotationEvent,
  readVersion,
  runRotationStep,
  type SecretRotationDeps,
  type VersionStages,
} from '#shared/secret-rotation';
import { deadlineOf, type WaitDeps, waitUntilReady } from './wait.ts';

export interface RotationDeps extends SecretRotationDeps, WaitDeps {
  readonly elasticache: Pick<ElastiCacheClient, 'send'>;
  readonly replicationGroupId: string;
  /** Length of generated tokens. @default 64 */
  readonly tokenLength?: number;
}

const FAILED_STATES = new Set(['create-failed', 'deleting', 'deleted']);

/**
 * Runs one rotation step; safe to call again for a step that already ran. finishSecret runs again
 * on a version that is already AWSCURRENT, to make sure the old token was dropped after a retry.
 */
export async function rotate(event: RotationEvent, deps: RotationDeps): Promise<void> {
  await runRotationStep(event, deps, {
    create: { length: deps.tokenLength ?? 64 },
    setSecret: ({ secretId, token }) => setSecret(secretId, token, deps),
    testSecret: ({ secretId, token }) => testSecret(secretId, token, deps),
    finishSecret: ({ secretId, token, versions }) => finishSecret(secretId, token, versions, deps),
    finishWhenCurrent: true,
    logFields: { replicationGroupId: deps.replicationGroupId },
  });
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
  versions: VersionStages,
  deps: RotationDeps,
): Promise<void> {
  await makeCurrent(secretId, token, versions, deps);
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

/**
 * Polls until the group is `available` (DescribeReplicationGroups every `pollIntervalMs`,
 * default 15 s): ElastiCache refuses a modification while one runs.
 */
export function waitUntilAvailable(
  deps: RotationDeps,
  deadline: number,
): Promise<ReplicationGroup> {
  return waitUntilReady(
    {
      name: `replication group ${deps.replicationGroupId}`,
      describe: () => describeGroup(deps),
      ready: 'available',
      failed: FAILED_STATES,
      defaultPollIntervalMs: 15_000,
    },
    deps,
    deadline,
  );
}
