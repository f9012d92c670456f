/**
 * Rotating the gateway-to-session-manager secret while requests flow loses none of them. Real
 * parts: gateway instances (authorizer on dynalite, limiter on redis-server) forwarding over HTTP
 * to a real session manager. STAND-IN: Secrets Manager itself cannot run here, so its versions and
 * staging labels are the aws-sdk-client-mock control plane of the Redis rotation tests
 * (test/lambda/redis-rotation/control-plane.ts); the rotation Lambda's steps and both readers talk
 * to that same stand-in, the readers by version stage as they do in AWS.
 *
 * The play, as a deployment sees it: gateway instance A starts before any rotation and lives
 * through two; instance B starts after the first (a new Lambda container reads the new value),
 * instance C after the second. A alone shows both halves of the design: after one rotation it is
 * accepted as AWSPREVIOUS without a single refusal; after two its value is neither, and it must
 * re-read and retry. The session manager re-reads on every mismatch here (refresh interval 0);
 * its once-per-interval limit is tested in test/services/trust.test.ts.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { SecretProvider } from '@axon/runtime/secrets';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '#gateway/gateway';
import type { Log } from '#shared/logger';
import { rotate } from '../../../lambda/gateway-secret-rotation/rotation.ts';
import { call, type Stack, startStack } from '../../services/support.ts';
import { poll } from '../../support/poll.ts';
import { bearer, type Fixture, request, startFixture } from '../gateway/support.ts';
import { ControlPlane } from '../redis-rotation/control-plane.ts';

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:GatewaySecret-AbCdEf';
const INITIAL = 'initialGatewaySecret0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Log;

let plane: ControlPlane;
let stack: Stack;
let f: Fixture;
let key: string;

/** A reader of one version stage, as `secretsManagerSecret(arn, stage)` is in AWS. */
function reader(stage: 'AWSCURRENT' | 'AWSPREVIOUS'): SecretProvider {
  return async () => {
    const out = await plane.secrets.send(
      new GetSecretValueCommand({ SecretId: SECRET_ID, VersionStage: stage }),
    );
    return out.SecretString ?? '';
  };
}

interface Seen {
  who: string;
  status: number;
}
const seen: Seen[] = [];
let flowing = true;
const loops: Promise<void>[] = [];

/** Two concurrent request loops through one gateway instance until the test stops them. */
function flow(who: string, gateway: Gateway): void {
  for (let i = 0; i < 2; i++) {
    loops.push(
      (async () => {
        while (flowing) {
          const response = await gateway.handle(
            request(
              'POST',
              '/v1/sessions',
              { ...bearer(key), 'content-type': 'application/json' },
              '{}',
            ),
          );
          seen.push({ who, status: response.status });
        }
      })(),
    );
  }
}

/** Lets `n` more requests from `who` complete before the play moves on. */
async function requestsPass(n: number, who?: string): Promise<void> {
  const count = () => seen.filter((s) => who === undefined || s.who === who).length;
  const target = count() + n;
  expect(
    await poll(
      async () => count(),
      (c) => c >= target,
    ),
  ).toBeGreaterThanOrEqual(target);
}

async function rotation(version: string): Promise<void> {
  plane.startRotation(version);
  for (const step of STEPS) {
    await rotate(
      { SecretId: SECRET_ID, ClientRequestToken: version, Step: step },
      {
        secrets: plane.secrets,
        log: quiet,
      },
    );
    await requestsPass(6);
  }
}

/** A new gateway instance: it reads AWSCURRENT at start, as setup.ts does. */
async function instance(): Promise<Gateway> {
  const readSecret = reader('AWSCURRENT');
  return f.instance({ secret: await readSecret(), readSecret });
}

const retries = () => f.metrics.counts.get('UpstreamSecretRetries') ?? 0;
const refused = (who?: string) =>
  seen.filter((s) => s.status === 401 && (who === undefined || s.who === who));

beforeAll(async () => {
  plane = new ControlPlane(SECRET_ID, INITIAL);
  stack = await startStack({
    gatewaySecret: reader('AWSCURRENT'),
    gatewaySecretPrevious: reader('AWSPREVIOUS'),
    gatewaySecretRefreshMs: 0,
    // Every request creates a session; the play makes a few hundred under one key.
    sessionQuotas: { pro: { maxSessions: 1_000_000 } },
  });
  f = await startFixture({ redisUrl: inject('redisUrl'), upstreamUrl: stack.url });
  key = (await f.newKey('pro')).key;
});

afterAll(async () => {
  flowing = false;
  await Promise.all(loops);
  await f?.close();
  await stack?.close();
  plane?.restore();
});

describe('gateway secret rotation while requests flow', () => {
  it('answers no request with 401 through two rotations, and ends on the newest value', async () => {
    flow('A', await instance());
    await requestsPass(10, 'A');

    await rotation('v-second');
    const second = plane.current()?.value;
    flow('B', await instance());
    await requestsPass(10, 'B');
    await requestsPass(10, 'A');
    // One rotation: A's value is AWSPREVIOUS and the session manager took it without a refusal.
    expect(refused()).toEqual([]);
    expect(retries()).toBe(0);

    await rotation('v-third');
    const third = plane.current()?.value;
    flow('C', await instance());
    await requestsPass(10, 'C');
    // Two rotations: A's value is neither; A re-reads AWSCURRENT on the 401 and retries.
    await poll(
      async () => retries(),
      (n) => n > 0,
    );
    await requestsPass(10, 'A');
    await requestsPass(10, 'B');
    flowing = false;
    await Promise.all(loops);

    expect(refused()).toEqual([]);
    expect([...new Set(seen.map((s) => s.status))]).toEqual([201]);
    expect(retries()).toBeGreaterThan(0);
    expect(new Set([INITIAL, second, third]).size).toBe(3);
    // The session manager now takes the newest value and the one before, and no longer the first.
    const direct = (secret: string | undefined) =>
      call(`${stack.url}/v1/models`, {
        headers: {
          'x-axon-gateway-secret': secret ?? '',
          'x-axon-key-id': 'key_direct',
          'x-axon-plan': 'pro',
        },
      });
    expect((await direct(third)).status).toBe(200);
    expect((await direct(second)).status).toBe(200);
    expect((await direct(INITIAL)).status).toBe(401);
  });
});
