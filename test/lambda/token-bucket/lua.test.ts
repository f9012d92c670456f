import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { packArgs, readReply, type ScriptArgs } from '#token-bucket/decision';
import { ARGS_BYTES, Op, REPLY_BYTES, TOKEN_BUCKET_LUA, TOKEN_BUCKET_SHA } from '#token-bucket/lua';
import { freshId } from './stores.ts';

/** A plan of 60 requests per minute, burst 10, nothing else: op, cost 1. */
const decideArgs: ScriptArgs = [Op.decide, 1, 0, 60, 10, 0, 0, 0, 0, 0, 0];

describe('token bucket script', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  const run = (key: string, ...argv: (string | Buffer)[]) =>
    redis.callBuffer('eval', [TOKEN_BUCKET_LUA, 1, key, ...argv]);

  it('uses the SHA that Redis computes for the script', async () => {
    const sha = await redis.script('LOAD', TOKEN_BUCKET_LUA);
    expect(sha).toBe(TOKEN_BUCKET_SHA);
  });

  it('touches no key but the ones it declares and the ledger in their slot, so it is safe on Redis Cluster', () => {
    const keyReads = [...TOKEN_BUCKET_LUA.matchAll(/redis\.call\('(\w+)', ([^,)]+)/g)]
      .filter(([, command]) => command !== 'TIME')
      .map(([, , key]) => key?.trim());
    expect(keyReads.length).toBeGreaterThan(0);
    for (const key of keyReads) expect(key).toMatch(/^(KEYS\[\d\]|key|ledger)$/);
    // The one undeclared key (its name needs Redis's clock) extends KEYS[1], hash tag and all.
    expect(TOKEN_BUCKET_LUA).toMatch(/local ledger = KEYS\[1\] \.\. ':u:' \.\. /);
  });

  it('answers a decision with six packed doubles: the buckets as they are after it', async () => {
    const key = `axon:rl:{${freshId()}}`;
    const [seconds, micros] = await redis.time();
    const before = Number(seconds) * 1000 + Number(micros) / 1000;
    const reply = await run(key, packArgs(decideArgs));
    expect(reply).toBeInstanceOf(Buffer);
    expect((reply as Buffer).length).toBe(REPLY_BYTES);
    const outcome = readReply(reply);
    expect(outcome).toMatchObject({ allowed: true, used: 0, inFlight: 0 });
    // The burst of 10 less the one charged, plus what refilled in the moment since the TIME.
    expect(outcome.req).toBeGreaterThanOrEqual(9);
    expect(outcome.req).toBeLessThan(9.01);
    expect(outcome.now).toBeGreaterThanOrEqual(before);
    expect(outcome.now).toBeLessThan(before + 10_000);
  });

  it('refuses an argument that is not eleven packed doubles, and changes nothing', async () => {
    const key = `axon:rl:{${freshId()}}`;
    const malformed = [
      '0 1 0 60 10 0 0 0 0 0 0', // the decimal text of an older client
      packArgs(decideArgs).subarray(0, ARGS_BYTES - 1),
      Buffer.concat([packArgs(decideArgs), Buffer.alloc(8)]),
      '',
    ];
    for (const argv of malformed) {
      await expect(run(key, argv)).rejects.toThrow('ERR token bucket: malformed arguments');
    }
    await expect(run(key)).rejects.toThrow('ERR token bucket: malformed arguments');
    expect(await redis.exists(key)).toBe(0);
  });

  it('refuses a reply that is not six packed doubles rather than reading garbage', () => {
    expect(() => readReply(Buffer.alloc(REPLY_BYTES - 8))).toThrow(/40 bytes, not 48/);
    expect(() => readReply([1, 9, 0])).toThrow(/object, not 48/);
    expect(() => readReply('1')).toThrow(/string, not 48/);
  });
});
