/**
 * The limiter's EVALSHA as one ioredis `Command` whose whole RESP encoding is built into one
 * Buffer up front. The script's argument is 88 bytes of packed doubles (lua.ts), and a `Buffer`
 * argument sends an ordinary ioredis command down its mixed-buffer path (a list of string and
 * Buffer pieces concatenated per call), which cost the gateway about 2 µs of CPU per decision
 * more than a string argument (bench:limiter). Here the constant head (command, SHA, key count)
 * is encoded once per shape (key count, arguments after the doubles), and a call writes its key,
 * its doubles (eleven, or nineteen in the long form), its lease id and its ledger model straight
 * into a buffer from Node's pool: no separate argument buffer, no concatenation.
 *
 * The command still carries its keys as ordinary arguments, so ioredis computes the cluster
 * slot from the first key exactly as it does for `callBuffer('evalsha', ...)`, and a MOVED or
 * ASK redirection, or a resend after a reconnect, writes the same bytes again (`toWritable` only
 * returns the prebuilt buffer). The reply is left as ioredis's parser gives it: a `Buffer` for
 * the packed doubles, a number for renew's integer.
 */
import { Command } from 'ioredis';
import { DeadlineQueue, type Timed } from './deadline-queue.ts';
import type { ScriptArgs } from './decision.ts';
import { ARGS_BYTES, LONG_ARGS_BYTES, TOKEN_BUCKET_SHA } from './lua.ts';

/**
 * `*<n>\r\n$7\r\nevalsha\r\n$40\r\n<sha>\r\n$1\r\n<keys>\r\n`, for 1 or 2 keys and 0 to 2
 * arguments after the packed one (the lease id, the ledger model).
 */
function head(keys: 1 | 2, after: number): Buffer {
  // Parts: evalsha, sha, numkeys, the keys, the packed argument, then the ones after it.
  const parts = 3 + keys + 1 + after;
  return Buffer.from(
    `*${parts}\r\n$7\r\nevalsha\r\n$${TOKEN_BUCKET_SHA.length}\r\n${TOKEN_BUCKET_SHA}\r\n$1\r\n${keys}\r\n`,
    'latin1',
  );
}
/** Heads by shape: [no lease, no model], [lease], [model], [lease and model]. */
const HEADS: readonly Buffer[] = [head(1, 0), head(2, 1), head(1, 1), head(2, 2)];
const ARG_HEADER = `$${ARGS_BYTES}\r\n`;
const LONG_ARG_HEADER = `$${LONG_ARGS_BYTES}\r\n`;

/** A bulk string's header and body, `$<bytes>\r\n<value>\r\n`, as UTF-8. */
function bulk(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/**
 * One EVALSHA of the token bucket script: KEYS[1] `key`, ARGV[1] the packed `args`, with a lease
 * KEYS[2] `<key>:leases` and ARGV[2] the lease id, and with a ledger model that model as the last
 * ARGV. Send it with `sendCommand`; a command is sent once (its promise settles once), so a retry
 * builds a new one or uses `fallbackArgs`.
 */
export class ScriptCommand extends Command implements Timed {
  private readonly wire: Buffer;
  /** Where ARGV[1]'s doubles start in `wire`. */
  private readonly argAt: number;
  private readonly leaseId: string | undefined;
  /**
   * Only for the long form or a ledger model, which the hot path never sends: `declare`d, so a
   * command without them defines no field for them (a class field is a define per command, and
   * two more cost a decision about 0.25 µs, bench:limiter's client).
   */
  declare private readonly long?: { readonly argBytes: number; readonly model?: string };
  private timed = false;
  /** When its `commandTimeout` falls due (`DeadlineQueue`). */
  due = 0;
  /**
   * Set by the sender when the command was rejected (an error reply, a closed connection):
   * ioredis marks only resolved commands (`isResolved`), and a rejected one at the head of the
   * timeout FIFO would keep every command after it there until it is due.
   */
  failed = false;

  constructor(key: string, args: ScriptArgs, leaseId?: string, model?: string) {
    // The arguments ioredis reads the keys (and so the cluster slot) from; never written as
    // they are, `toWritable` sends `wire`.
    super(
      'evalsha',
      leaseId === undefined
        ? [TOKEN_BUCKET_SHA, '1', key]
        : [TOKEN_BUCKET_SHA, '2', key, `${key}:leases`],
    );
    this.leaseId = leaseId;
    const long = args.length > 11;
    const argBytes = long ? LONG_ARGS_BYTES : ARGS_BYTES;
    if (long || model !== undefined)
      this.long = { argBytes, ...(model !== undefined && { model }) };
    const headBytes = HEADS[
      (leaseId === undefined ? 0 : 1) + (model === undefined ? 0 : 2)
    ] as Buffer;
    // Everything between the head and the doubles, then everything after them, as text.
    const argHeader = long ? LONG_ARG_HEADER : ARG_HEADER;
    const before =
      leaseId === undefined ? bulk(key) + argHeader : bulk(key) + bulk(`${key}:leases`) + argHeader;
    let after = leaseId === undefined ? '\r\n' : `\r\n${bulk(leaseId)}`;
    if (model !== undefined) after += bulk(model);
    const beforeBytes = Buffer.byteLength(before);
    const wire = Buffer.allocUnsafe(
      headBytes.length + beforeBytes + argBytes + Buffer.byteLength(after),
    );
    let at = headBytes.copy(wire, 0);
    at += wire.write(before, at);
    this.argAt = at;
    for (let i = 0; i < args.length; i++) at = wire.writeDoubleLE(args[i] as number, at);
    wire.write(after, at);
    this.wire = wire;
  }

  override toWritable(_socket: object): Buffer {
    return this.wire;
  }

  /**
   * ioredis's `commandTimeout`, kept to the letter (rejected with "Command timed out" unless
   * resolved by then) but without a `setTimeout` and a `clearTimeout` per command, which cost a
   * decision about 1.2 µs (bench:limiter): every command of one timeout goes into one FIFO with
   * one timer (`DeadlineQueue`). ioredis calls this from `sendCommand` when the option is set.
   */
  override setTimeout(ms: number): void {
    // As ioredis: a command sent again (after a reconnect) keeps its first deadline.
    if (this.timed) return;
    this.timed = true;
    const queue = timeoutsFor(ms);
    queue.drop();
    queue.add(this);
  }

  /**
   * The same call as `callBuffer` arguments after the command name (`[sha, numkeys, ...keys,
   * argv, leaseId?, model?]`): for the rare paths (NOSCRIPT's EVAL, a retry after
   * re-authentication) that go through ioredis's ordinary commands.
   */
  fallbackArgs(): (string | Buffer)[] {
    const argv = this.wire.subarray(this.argAt, this.argAt + (this.long?.argBytes ?? ARGS_BYTES));
    const [sha, keys, ...names] = this.args as string[];
    const args: (string | Buffer)[] = [sha as string, keys as string, ...names, argv];
    if (this.leaseId !== undefined) args.push(this.leaseId);
    if (this.long?.model !== undefined) args.push(this.long.model);
    return args;
  }
}

/**
 * The commands sent with one `commandTimeout`, on one `DeadlineQueue` (one timer, armed for the
 * oldest command not yet answered; answered ones leave from the head as new ones arrive). A
 * command rejected by an error reply is marked `failed` by its sender and leaves like an
 * answered one; an unanswered one is rejected with "Command timed out" as ioredis's own timer
 * does, straight from the timer (as ioredis).
 */
function commandTimeouts(ms: number): DeadlineQueue<ScriptCommand> {
  return new DeadlineQueue<ScriptCommand>(
    ms,
    (command) => !done(command),
    (command) => command.reject(new Error('Command timed out')),
    false,
  );
}

function done(command: ScriptCommand): boolean {
  return command.isResolved || command.failed;
}

const timeouts = new Map<number, DeadlineQueue<ScriptCommand>>();
function timeoutsFor(ms: number): DeadlineQueue<ScriptCommand> {
  let found = timeouts.get(ms);
  if (!found) {
    found = commandTimeouts(ms);
    timeouts.set(ms, found);
  }
  return found;
}

/** Commands still held for `commandTimeout` `ms`: what the FIFO keeps alive (tests, diagnostics). */
export function commandsAwaitingTimeout(ms: number): number {
  return timeouts.get(ms)?.size ?? 0;
}
