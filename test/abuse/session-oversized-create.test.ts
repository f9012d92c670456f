/**
 * Abuse, issue 11 finding 3: a create with an oversized system prompt must be refused and store
 * nothing, and listing must stay cheap however large the stored prompts are. Through
 * `npm start`. Before the fix a 900 KB prompt was stored, the reply echoing it outgrew the ALB
 * path (502), a retry stored another copy, and listing read every session's whole hash in one
 * Lua call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AbuseStack,
  gateway,
  info,
  newKey,
  STUB_MODEL,
  scanKeys,
  startAbuseStack,
} from './session-support.ts';

describe('abuse: oversized system prompts', () => {
  let abuse: AbuseStack;

  beforeAll(async () => {
    abuse = await startAbuseStack({ roomy: { requestsPerMinute: 60000, burst: 5000 } });
  }, 120_000);
  afterAll(() => abuse?.stop());

  const storedKeysOf = async (keyId: string) => [
    ...(await scanKeys(abuse.sessionRedis, `axon:sess:{${keyId}}*`)),
    ...(await scanKeys(abuse.limiterRedis, `axon:sess:{${keyId}}*`)),
  ];

  it('refuses a 900 KB system prompt with a 4xx and stores nothing, retry after retry', async () => {
    const { key, keyId } = await newKey(abuse.stack, 'roomy');
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await gateway(abuse.stack, '/v1/sessions', {
        key,
        body: { model: STUB_MODEL, system: 's'.repeat(900 * 1024) },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'system_prompt_too_large' } });
    }
    const listed = await gateway(abuse.stack, '/v1/sessions', { key });
    expect(listed.status).toBe(200);
    expect((listed.body as { data: unknown[] }).data).toEqual([]);
    expect(await storedKeysOf(keyId)).toEqual([]);
  });

  it('lists a page of sessions without reading their prompts: Redis sends far less than they hold', async () => {
    const { key } = await newKey(abuse.stack, 'roomy');
    const prompt = 'q'.repeat(60 * 1024);
    for (let i = 0; i < 40; i++) {
      const res = await gateway(abuse.stack, '/v1/sessions', {
        key,
        body: { model: STUB_MODEL, system: prompt },
      });
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body).length).toBeLessThan(1024);
    }
    const before = await info(abuse.sessionRedis, 'total_net_output_bytes');
    const page = await gateway(abuse.stack, '/v1/sessions?limit=20', { key });
    const sent = (await info(abuse.sessionRedis, 'total_net_output_bytes')) - before;
    expect(page.status).toBe(200);
    expect((page.body as { data: unknown[] }).data).toHaveLength(20);
    // 20 prompts of 60 KB are 1.2 MB; a page's few small fields are a few KB (INFO's own reply,
    // about 2 KB, counts too). 100 KB is ten times that and a tenth of what the prompts weigh.
    expect(sent).toBeLessThan(100 * 1024);
  });
});
