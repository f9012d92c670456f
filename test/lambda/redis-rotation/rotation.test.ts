/**
 * The redis-rotation Lambda's four steps against a stand-in of the Secrets Manager and
 * ElastiCache control planes (aws-sdk-client-mock; see control-plane.ts). The runtime side of a
 * rotation, clients re-reading the secret on WRONGPASS against a real redis-server, is tested with
 * the gateway and the session manager.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RotationStep } from '#shared/secret-rotation';
import { type RotationDeps, rotate } from '../../../lambda/redis-rotation/rotation.ts';
import { ControlPlane } from './control-plane.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:axon-redis-auth-AbCdEf';
const OLD = 'oldToken0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV';
const VERSION = 'c0ffee00-0000-4000-8000-000000000001';

let plane: ControlPlane;
let logLines: string[];

function deps(overrides: Partial<RotationDeps> = {}): RotationDeps {
  const fromPlane = plane.rotationDeps();
  logLines = fromPlane.logLines;
  return {
    ...fromPlane.deps,
    replicationGroupId: 'axon-redis',
    pollIntervalMs: 15_000,
    ...overrides,
  };
}

function run(step: RotationStep, d: RotationDeps = deps(), token = VERSION): Promise<void> {
  return rotate({ SecretId: SECRET, ClientRequestToken: token, Step: step }, d);
}

async function rotateFully(d: RotationDeps = deps()): Promise<void> {
  for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
    await run(step, d);
  }
}

const apis = () => plane.calls.map((c) => c.api);
const modifies = () =>
  plane.calls
    .filter((c) => c.api === 'ModifyReplicationGroup')
    .map((c) => ({
      strategy: c.input.AuthTokenUpdateStrategy,
      token: c.input.AuthToken,
      now: c.input.ApplyImmediately,
    }));

function setUp(): void {
  plane = new ControlPlane(SECRET, OLD);
  plane.startRotation(VERSION);
}

afterEach(() => plane.restore());

describe('redis AUTH rotation', () => {
  it('ends with a new 64-character token current in Secrets Manager and the only one Redis takes', async () => {
    setUp();
    await rotateFully();
    const current = plane.current()?.value ?? '';
    expect(current).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(current).not.toBe(OLD);
    expect(plane.stagesOf()).toEqual({ 'v-initial': ['AWSPREVIOUS'], [VERSION]: ['AWSCURRENT'] });
    expect(plane.group.tokens).toEqual([current]);
  });

  it('sends ROTATE with the pending token, then moves AWSCURRENT, then SET with the same token', async () => {
    setUp();
    await rotateFully();
    const pending = plane.versions.get(VERSION)?.value;
    expect(modifies()).toEqual([
      { strategy: 'ROTATE', token: pending, now: true },
      { strategy: 'SET', token: pending, now: true },
    ]);
    const order = plane.calls
      .filter((c) => c.api === 'ModifyReplicationGroup' || c.api === 'UpdateSecretVersionStage')
      .map((c) =>
        c.api === 'UpdateSecretVersionStage' ? 'AWSCURRENT moved' : c.input.AuthTokenUpdateStrategy,
      );
    expect(order).toEqual(['ROTATE', 'AWSCURRENT moved', 'SET']);
  });

  it('keeps the old token valid from ROTATE until SET, so running clients never lose Redis', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    await run('setSecret', d);
    const pending = plane.versions.get(VERSION)?.value;
    expect(plane.group.tokens).toEqual([OLD, pending]);
    await run('testSecret', d);
    expect(plane.group.tokens).toEqual([OLD, pending]);
    expect(plane.current()?.value).toBe(OLD);
    await run('finishSecret', d);
    expect(plane.group.tokens).toEqual([pending]);
  });

  it('waits for the group to be available before and after each modification', async () => {
    setUp();
    plane.group.status = 'modifying';
    plane.group.pendingPolls = 3;
    const d = deps();
    await run('createSecret', d);
    await run('setSecret', d);
    // Never modified while `modifying` (the stand-in would have thrown), and left `available`.
    expect(plane.group.status).toBe('available');
    const setCalls = apis().slice(apis().indexOf('ListSecretVersionIds'));
    expect(setCalls).toEqual([
      'ListSecretVersionIds',
      'DescribeReplicationGroups',
      'DescribeReplicationGroups',
      'DescribeReplicationGroups',
      'ModifyReplicationGroup',
      'DescribeReplicationGroups',
      'DescribeReplicationGroups',
    ]);
  });

  it('generates the pending token once, even when createSecret runs again', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    const first = plane.versions.get(VERSION)?.value;
    await run('createSecret', d);
    expect(plane.versions.get(VERSION)?.value).toBe(first);
    expect(apis().filter((a) => a === 'PutSecretValue')).toHaveLength(1);
    expect(plane.calls.find((c) => c.api === 'GetRandomPassword')?.input).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
  });

  it('does not ROTATE twice when setSecret is retried after its ROTATE went through', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    await run('setSecret', d);
    await run('setSecret', d);
    expect(modifies().map((m) => m.strategy)).toEqual(['ROTATE']);
    expect(plane.group.tokens).toContain(OLD);
  });

  it('still sends SET when finishSecret is retried after the stage already moved', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    await run('setSecret', d);
    await run('testSecret', d);
    const pending = plane.versions.get(VERSION)?.value as string;
    // A first finishSecret moved the label, then failed before SET.
    plane.versions.get('v-initial')?.stages.splice(0, 1, 'AWSPREVIOUS');
    plane.versions.set(VERSION, {
      ...(plane.versions.get(VERSION) as { created: Date }),
      value: pending,
      stages: ['AWSCURRENT'],
    });
    await run('finishSecret', d);
    expect(apis()).not.toContain('UpdateSecretVersionStage');
    expect(modifies().at(-1)).toEqual({ strategy: 'SET', token: pending, now: true });
    expect(plane.group.tokens).toEqual([pending]);
  });

  it('fails testSecret while the group has not taken the pending token', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    await expect(run('testSecret', d)).rejects.toThrow(/has not taken the pending token yet/);
  });

  it('does nothing for a version that is already current', async () => {
    setUp();
    await expect(run('setSecret', deps(), 'v-initial')).resolves.toBeUndefined();
    expect(modifies()).toEqual([]);
  });

  it('refuses a secret without rotation enabled', async () => {
    setUp();
    plane.rotationEnabled = false;
    await expect(run('createSecret')).rejects.toThrow(/does not have rotation enabled/);
  });

  it('refuses a version the secret does not have', async () => {
    setUp();
    await expect(run('createSecret', deps(), 'no-such-version')).rejects.toThrow(
      /has no version no-such-version/,
    );
  });

  it('refuses a version that is neither AWSPENDING nor AWSCURRENT', async () => {
    setUp();
    plane.versions.set('v-old', {
      value: 'x'.repeat(64),
      stages: ['AWSPREVIOUS'],
      created: plane.now(),
    });
    await expect(run('setSecret', deps(), 'v-old')).rejects.toThrow(
      /neither AWSPENDING nor AWSCURRENT/,
    );
  });

  it('stops with a clear error when the group failed', async () => {
    setUp();
    const d = deps();
    await run('createSecret', d);
    plane.group.status = 'create-failed';
    await expect(run('setSecret', d)).rejects.toThrow(
      /replication group axon-redis is create-failed/,
    );
    expect(modifies()).toEqual([]);
  });

  it('gives up at the step deadline instead of waiting forever', async () => {
    setUp();
    const d = deps({ waitTimeoutMs: 60_000 });
    await run('createSecret', d);
    plane.group.status = 'modifying';
    plane.group.pendingPolls = 1_000;
    await expect(run('setSecret', d)).rejects.toThrow(/still modifying at the step's deadline/);
  });

  it('never logs a token', async () => {
    setUp();
    const d = deps();
    await rotateFully(d);
    const pending = plane.versions.get(VERSION)?.value as string;
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line).not.toContain(pending);
      expect(line).not.toContain(OLD);
    }
  });
});
