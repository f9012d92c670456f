/**
 * Rotation of an ElastiCache RBAC user's password through the two passwords a user may hold,
 * against the stand-in control plane (aws-sdk-client-mock; see control-plane.ts). The client
 * side, a connection re-reading its password after the old one is dropped, runs on a real
 * redis-server in test/lambda/shared/redis-acl.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RotationStep } from '#shared/secret-rotation';
import { rotateUser, type UserRotationDeps } from '../../../lambda/redis-rotation/user-rotation.ts';
import { ControlPlane } from './control-plane.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:axon-redis-gateway-AbCdEf';
const OLD = 'oldPassword0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR';
const VERSION = 'c0ffee00-0000-4000-8000-000000000002';

let plane: ControlPlane;
let logLines: string[];

function deps(overrides: Partial<UserRotationDeps> = {}): UserRotationDeps {
  const fromPlane = plane.rotationDeps();
  logLines = fromPlane.logLines;
  return { ...fromPlane.deps, userId: 'axon-dev-gateway', ...overrides };
}

const run = (step: RotationStep, d = deps()) =>
  rotateUser({ SecretId: SECRET, ClientRequestToken: VERSION, Step: step }, d);
const modifies = () =>
  plane.calls
    .filter((c) => c.api === 'ModifyUser')
    .map((c) => (c.input.AuthenticationMode as { Passwords: string[] }).Passwords);

afterEach(() => plane?.restore());

function start(): void {
  plane = new ControlPlane(SECRET, OLD);
  plane.startRotation(VERSION);
}

describe('user password rotation', () => {
  it('holds the old and the new password after setSecret, then only the new one', async () => {
    start();
    const d = deps();
    await run('createSecret', d);
    const fresh = plane.versions.get(VERSION)?.value as string;
    expect(fresh).toHaveLength(64);

    await run('setSecret', d);
    expect(plane.user.passwords).toEqual([OLD, fresh]);
    await run('testSecret', d);
    await run('finishSecret', d);

    expect(plane.user.passwords).toEqual([fresh]);
    expect(plane.current()?.value).toBe(fresh);
    expect(modifies()).toEqual([[OLD, fresh], [fresh]]);
  });

  it('waits for a user that is still modifying instead of failing the step', async () => {
    start();
    const d = deps();
    await run('createSecret', d);
    plane.user.status = 'modifying';
    plane.user.pendingPolls = 3;
    await run('setSecret', d);
    expect(plane.user.passwords).toHaveLength(2);
  });

  it('fails testSecret while the user holds only one password', async () => {
    start();
    const d = deps();
    await run('createSecret', d);
    await expect(run('testSecret', d)).rejects.toThrow(
      /holds 1 passwords, not the old and the new/,
    );
  });

  it('is safe to run setSecret and finishSecret twice (Secrets Manager retries steps)', async () => {
    start();
    const d = deps();
    await run('createSecret', d);
    await run('setSecret', d);
    await run('setSecret', d);
    expect(plane.user.passwords).toHaveLength(2);
    await run('testSecret', d);
    await run('finishSecret', d);
    const fresh = plane.current()?.value as string;
    await run('finishSecret', d);
    expect(plane.user.passwords).toEqual([fresh]);
  });

  it('never logs a password', async () => {
    start();
    const d = deps();
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await run(step, d);
    }
    const fresh = plane.current()?.value as string;
    expect(logLines.join('\n')).not.toContain(OLD);
    expect(logLines.join('\n')).not.toContain(fresh);
  });
});
