/**
 * What the session manager's logs say about failures: name, code and message of the error, never
 * a stack trace or an internal address, for client mistakes and for Triton and Redis failures
 * alike (the logs leave the cluster; the addresses are of no use to whoever reads them there).
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { errorFields, scrubHosts } from '../../services/session-manager/src/core/log-fields.ts';
import { call, freshKeyId, principal, type Stack, startStack } from './support.ts';

const STACK_FRAME = /\n\s+at /;

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('failure logs', () => {
  let stack: Stack;
  let tritonPort: number;
  const lines: Record<string, unknown>[] = [];
  const logged = () => lines.map((l) => JSON.stringify(l)).join('\n');

  beforeAll(async () => {
    tritonPort = await deadPort();
    stack = await startStack({
      redisUrl: inject('redisUrl'),
      // Nothing listens here: every inference call fails with ECONNREFUSED 127.0.0.1:<port>.
      tritonUrl: `http://127.0.0.1:${tritonPort}`,
      logger: { level: 'info', stream: { write: (line) => lines.push(JSON.parse(line)) } },
    });
  });
  afterAll(() => stack.close());

  it('logs an unreachable Triton by error name and code, without a stack or its address', async () => {
    lines.length = 0;
    const res = await call(`${stack.url}/v1/models`, { headers: principal(freshKeyId()) });
    expect(res.status).toBe(503);
    const failure = lines.find((l) => l.code === 'inference_unavailable') as {
      err?: { name?: string; message?: string };
    };
    expect(failure?.err?.name).toEqual(expect.any(String));
    expect(JSON.stringify(failure.err)).toContain('ECONNREFUSED');
    expect(logged()).not.toMatch(STACK_FRAME);
    expect(logged()).not.toContain('"stack"');
    expect(logged()).not.toContain(`127.0.0.1:${tritonPort}`);
  });

  it('logs a refused client request by code only', async () => {
    lines.length = 0;
    const res = await call(`${stack.url}/v1/sessions`, {
      headers: principal(freshKeyId()),
      body: '{"model": ',
    });
    expect(res.status).toBe(400);
    expect(lines.find((l) => l.code === 'invalid_json')).toMatchObject({ status: 400 });
    expect(logged()).not.toMatch(STACK_FRAME);
  });
});

describe('scrubbing internal names from error messages', () => {
  it.each([
    ['connect ECONNREFUSED 10.0.3.7:8000', 'connect ECONNREFUSED <address>'],
    ['getaddrinfo ENOTFOUND triton.inference.svc.cluster.local', 'getaddrinfo ENOTFOUND <host>'],
    ['GET http://triton:8000/v2/health/ready failed', 'GET <url> failed'],
    ['connect to redis:6379 timed out', 'connect to <host> timed out'],
    ['connect ETIMEDOUT [fd00::1]:6379', 'connect ETIMEDOUT <address>'],
    ['master.axon-dev.abc123.use1.cache.amazonaws.com:6379 is down', '<host> is down'],
  ])('rewrites %j', (raw, scrubbed) => {
    expect(scrubHosts(raw)).toBe(scrubbed);
  });

  it('keeps the message of a plain { message } object, scrubbed', () => {
    expect(errorFields({ message: 'connect ECONNREFUSED 10.0.0.9:6379' })).toEqual({
      name: 'object',
      message: 'connect ECONNREFUSED <address>',
    });
  });

  it('keeps the name, code and message of an error and its cause, never a stack', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:8000'), {
      code: 'ECONNREFUSED',
    });
    const fields = errorFields(new Error('upstream failed', { cause }));
    expect(fields).toEqual({
      name: 'Error',
      message: 'upstream failed',
      cause: { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED <address>' },
    });
  });
});
