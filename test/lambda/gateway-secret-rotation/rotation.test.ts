/**
 * The gateway-secret-rotation Lambda's four steps against the stand-in of the Secrets Manager
 * control plane the Redis rotation tests use (aws-sdk-client-mock; see
 * test/lambda/redis-rotation/control-plane.ts). The readers' side, a rotation while requests
 * flow through the real gateway and session manager, is in rotation-under-load.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Log } from '#shared/logger';
import type { RotationStep } from '#shared/secret-rotation';
import { type RotationDeps, rotate } from '../../../lambda/gateway-secret-rotation/rotation.ts';
import { ControlPlane } from '../redis-rotation/control-plane.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:GatewaySecret-AbCdEf';
const OLD = 'oldGatewaySecret0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM';
const VERSION = 'c0ffee00-0000-4000-8000-000000000002';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

let plane: ControlPlane;
let logLines: string[];

function deps(overrides: Partial<RotationDeps> = {}): RotationDeps {
  logLines = [];
  const capture = (...args: unknown[]) => {
    logLines.push(JSON.stringify(args));
  };
  const log = { debug: capture, info: capture, warn: capture, error: capture } as unknown as Log;
  return { secrets: plane.secrets, log, ...overrides };
}

function run(step: RotationStep, d: RotationDeps = deps(), token = VERSION): Promise<void> {
  return rotate({ SecretId: SECRET, ClientRequestToken: token, Step: step }, d);
}

function setUp(): void {
  plane = new ControlPlane(SECRET, OLD);
  plane.startRotation(VERSION);
}

const writes = () =>
  plane.calls
    .map((c) => c.api)
    .filter((api) => api === 'PutSecretValue' || api === 'UpdateSecretVersionStage');

afterEach(() => plane.restore());

describe('gateway secret rotation', () => {
  it('ends with a new 64-character value current and the old one previous', async () => {
    setUp();
    const d = deps();
    for (const step of STEPS) await run(step, d);
    const current = plane.current()?.value ?? '';
    expect(current).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(current).not.toBe(OLD);
    expect(plane.stagesOf()).toEqual({ 'v-initial': ['AWSPREVIOUS'], [VERSION]: ['AWSCURRENT'] });
  });

  it('writes nothing in setSecret and testSecret: the readers fetch the value themselves', async () => {
    setUp();
    await run('createSecret');
    const before = writes().length;
    await run('setSecret');
    await run('testSecret');
    expect(writes().length).toBe(before);
    expect(plane.current()?.value).toBe(OLD);
  });

  it('keeps the pending value when createSecret runs again', async () => {
    setUp();
    await run('createSecret');
    const pending = plane.versions.get(VERSION)?.value;
    await run('createSecret');
    expect(plane.versions.get(VERSION)?.value).toBe(pending);
    expect(writes()).toEqual(['PutSecretValue']);
  });

  it('does nothing once the version is already current (a retried finishSecret)', async () => {
    setUp();
    const d = deps();
    for (const step of STEPS) await run(step, d);
    const before = writes().length;
    await run('finishSecret');
    expect(writes().length).toBe(before);
    expect(plane.stagesOf()[VERSION]).toEqual(['AWSCURRENT']);
  });

  it('fails testSecret on a pending value the session manager would refuse', async () => {
    setUp();
    plane.versions.set(VERSION, {
      value: 'too-short',
      stages: ['AWSPENDING'],
      created: plane.now(),
    });
    await expect(run('testSecret')).rejects.toThrow(/at least 16 printable characters/);
    expect(plane.current()?.value).toBe(OLD);
  });

  it('refuses a secret without rotation, an unknown version and an unknown step', async () => {
    setUp();
    await expect(run('createSecret', deps(), 'no-such-version')).rejects.toThrow(
      /has no version no-such-version/,
    );
    await expect(run('rotateEverything' as RotationStep)).rejects.toThrow(/unknown rotation step/);
    plane.rotationEnabled = false;
    await expect(run('createSecret')).rejects.toThrow(/does not have rotation enabled/);
  });

  it('never logs a secret value', async () => {
    setUp();
    const d = deps();
    for (const step of STEPS) await run(step, d);
    const current = plane.current()?.value ?? '';
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(current);
    expect(logLines.join('\n')).not.toContain(OLD);
  });
});
