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
  createSecret,
  makeCurrent,
  RotationError,
  type RotationEvent,
  readCurrent,
  readVersion,
  runRotationStep,
  type SecretRotationDeps,
} from '#shared/secret-rotation';

export interface UserRotationDeps extends SecretRotationDeps {
  readonly elasticache: Pick<ElastiCacheClient, 'send'>;
  /** The ElastiCache user id (not its user name) whose password the secret holds. */
  readonly userId: string;
  /** Length of generated passwords (ElastiCache: 16 to 128). @default 64 */
  readonly tokenLength?: number;
  /** Pause between DescribeUsers polls. @default 5000 */
  readonly pollIntervalMs?: number;
  /** Time budget of one step for waiting on the user. @default 13 minutes */
  readonly waitTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one rotation step of a user's password; safe to call again for a step that already ran.
 * finishSecret runs again on a version that is already AWSCURRENT, to make sure the old password
 * was dropped after a retry.
 */
export async function rotateUser(event: RotationEvent, deps: UserRotationDeps): Promise<void> {
  await runRotationStep(
    event,
    deps,
    {
      createSecret: ({ secretId, token }) =>
        createSecret(secretId, token, deps, { length: deps.tokenLength ?? 64 }),
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
    },
    { finishWhenCurrent: true, logFields: { userId: deps.userId } },
  );
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
  const deadline = (deps.now ?? Date.now)() + (deps.waitTimeoutMs ?? 13 * 60_000);
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

/** Polls until the user is `active`: ElastiCache refuses a modification while one runs. */
async function waitUntilActive(deps: UserRotationDeps, deadline: number): Promise<User> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  for (;;) {
    const user = await describeUser(deps);
    if (user.Status === 'active') return user;
    if (user.Status === 'deleting') throw new RotationError(`user ${deps.userId} is deleting`);
    if (now() >= deadline) {
      throw new RotationError(
        `user ${deps.userId} still ${user.Status} at the step's deadline; Secrets Manager retries the rotation`,
      );
    }
    await sleep(deps.pollIntervalMs ?? 5_000);
  }
}
