/**
 * Secrets Manager rotation of one ElastiCache RBAC user's password without downtime. An
 * ElastiCache user may hold two passwords at once, which plays the part ROTATE plays for an AUTH
 * token:
 *
 * 1. createSecret: generate a new password as the AWSPENDING version (#shared/secret-rotation).
 * 2. setSecret:    ModifyUser with both passwords, AWSCURRENT's and AWSPENDING's, so clients on
 *                  either get in.
 * 3. testSecret:   the user is `active` and holds two passwords (the function has no network path
 *                  into Redis, so the control plane is what it can check).
 * 4. finishSecret: move AWSCURRENT to the new version, then ModifyUser with the new password
 *                  alone. A client still on the old one gets WRONGPASS at its next connect,
 *                  re-reads AWSCURRENT and reconnects (`@axon/runtime/redis`).
 *
 * Each step is safe to run again: ModifyUser with the same passwords changes nothing. No password
 * is ever logged.
 */
import {
  DescribeUsersCommand,
  type ElastiCacheClient,
  ModifyUserCommand,
  type User,
} from '@aws-sdk/client-elasticache';
import {
  makeCurrent,
  RotationError,
  type RotationEvent,
  readCurrent,
  readVersion,
  runRotationStep,
  type SecretRotationDeps,
} from '#shared/secret-rotation';
import { deadlineOf, type WaitDeps, waitUntilReady } from './wait.ts';

export interface UserRotationDeps extends SecretRotationDeps, WaitDeps {
  readonly elasticache: Pick<ElastiCacheClient, 'send'>;
  /** The ElastiCache user id (not its user name) whose password the secret holds. */
  readonly userId: string;
  /** Length of generated passwords (ElastiCache: 16 to 128). @default 64 */
  readonly tokenLength?: number;
}

const USER_FAILED_STATES = new Set(['deleting']);

/**
 * Runs one rotation step of a user's password; safe to call again for a step that already ran.
 * finishSecret runs again on a version that is already AWSCURRENT, to make sure the old password
 * was dropped after a retry.
 */
export async function rotateUser(event: RotationEvent, deps: UserRotationDeps): Promise<void> {
  await runRotationStep(event, deps, {
    create: { length: deps.tokenLength ?? 64 },
    setSecret: async ({ secretId, token, versions }) => {
      const current = await readCurrent(secretId, versions, deps);
      const pending = await readVersion(secretId, token, deps, 'AWSPENDING');
      await setPasswords(deps, [current, pending]);
    },
    testSecret: () => testUser(deps),
    finishSecret: async ({ secretId, token, versions }) => {
      await makeCurrent(secretId, token, versions, deps);
      await setPasswords(deps, [await readVersion(secretId, token, deps)]);
    },
    finishWhenCurrent: true,
    logFields: { userId: deps.userId },
  });
}

/** The user is `active` and holds two passwords, the old and the new one. */
async function testUser(deps: UserRotationDeps): Promise<void> {
  const user = await describeUser(deps);
  if (user.Status !== 'active') {
    throw new RotationError(`user ${deps.userId} is ${user.Status}, not active`);
  }
  if (user.Authentication?.PasswordCount !== 2) {
    throw new RotationError(
      `user ${deps.userId} holds ${user.Authentication?.PasswordCount ?? 0} passwords, not the old and the new one`,
    );
  }
}

async function setPasswords(deps: UserRotationDeps, passwords: string[]): Promise<void> {
  const deadline = deadlineOf(deps);
  await waitUntilActive(deps, deadline);
  await deps.elasticache.send(
    new ModifyUserCommand({
      UserId: deps.userId,
      AuthenticationMode: { Type: 'password', Passwords: passwords },
    }),
  );
  await waitUntilActive(deps, deadline);
}

async function describeUser(deps: UserRotationDeps): Promise<User> {
  const out = await deps.elasticache.send(new DescribeUsersCommand({ UserId: deps.userId }));
  const user = out.Users?.[0];
  if (!user) throw new RotationError(`user ${deps.userId} not found`);
  return user;
}

/**
 * Polls until the user is `active` (DescribeUsers every `pollIntervalMs`, default 5 s):
 * ElastiCache refuses a modification while one runs.
 */
function waitUntilActive(deps: UserRotationDeps, deadline: number): Promise<User> {
  return waitUntilReady(
    {
      name: `user ${deps.userId}`,
      describe: () => describeUser(deps),
      ready: 'active',
      failed: USER_FAILED_STATES,
      defaultPollIntervalMs: 5_000,
    },
    deps,
    deadline,
  );
}
