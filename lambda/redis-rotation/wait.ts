/**
 * Waiting on an ElastiCache resource (a replication group, a user) between modifications:
 * ElastiCache refuses a modification while one runs, and a rotation step has only the Lambda's
 * time to wait in. Both rotations poll the same way; only the resource and its states differ.
 */
import { RotationError } from '#shared/secret-rotation';

export interface WaitDeps {
  /** Pause between polls. @default - the caller's, per resource */
  readonly pollIntervalMs?: number;
  /** Time budget of one step for waiting. @default 13 minutes */
  readonly waitTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** When the current step must stop waiting, so that it fails with a clear error, not a timeout. */
export function deadlineOf(deps: WaitDeps): number {
  return (deps.now ?? Date.now)() + (deps.waitTimeoutMs ?? 13 * 60_000);
}

export interface WaitTarget<T extends { readonly Status?: string }> {
  /** How errors name the resource, e.g. `replication group axon-redis`. */
  readonly name: string;
  readonly describe: () => Promise<T>;
  /** The status in which the resource takes a modification. */
  readonly ready: string;
  /** Statuses it never leaves for `ready`: waiting on would only burn the step's time. */
  readonly failed: ReadonlySet<string>;
  readonly defaultPollIntervalMs: number;
}

/** Polls until the resource is `ready`; a failed status or the deadline ends it with an error. */
export async function waitUntilReady<T extends { readonly Status?: string }>(
  target: WaitTarget<T>,
  deps: WaitDeps,
  deadline: number,
): Promise<T> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  for (;;) {
    const resource = await target.describe();
    if (resource.Status === target.ready) return resource;
    if (resource.Status && target.failed.has(resource.Status)) {
      throw new RotationError(`${target.name} is ${resource.Status}`);
    }
    if (now() >= deadline) {
      throw new RotationError(
        `${target.name} still ${resource.Status} at the step's deadline; Secrets Manager retries the rotation`,
      );
    }
    await sleep(deps.pollIntervalMs ?? target.defaultPollIntervalMs);
  }
}
