import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { edgeFromEnv, stubTokenDelayFromEnv } from '#local/edge-choice';
import { edgeConfigFromEnv } from '../../../services/gateway-edge/src/config.ts';

describe('container edge settings', () => {
  it('defaults to port 8080, a 1 MiB body cap and a two-minute drain', () => {
    expect(edgeConfigFromEnv({})).toEqual({
      port: 8080,
      host: '0.0.0.0',
      maxBodyBytes: 1024 * 1024,
      shutdownGraceMs: 120_000,
    });
  });

  it('takes PORT, AXON_MAX_BODY_BYTES and AXON_SHUTDOWN_GRACE_MS', () => {
    const env = { PORT: '9000', AXON_MAX_BODY_BYTES: '4096', AXON_SHUTDOWN_GRACE_MS: '0' };
    expect(edgeConfigFromEnv(env)).toMatchObject({
      port: 9000,
      maxBodyBytes: 4096,
      shutdownGraceMs: 0,
    });
  });

  it('refuses a bad value, naming the variable and the value', () => {
    expect(() => edgeConfigFromEnv({ AXON_MAX_BODY_BYTES: '1e3x' })).toThrow(
      /AXON_MAX_BODY_BYTES must be a whole number >= 1, got "1e3x"/,
    );
    expect(() => edgeConfigFromEnv({ AXON_MAX_BODY_BYTES: '0' })).toThrow(/AXON_MAX_BODY_BYTES/);
    expect(() => edgeConfigFromEnv({ PORT: '70000' })).toThrow(/PORT must be a port number/);
    expect(() => edgeConfigFromEnv({ AXON_SHUTDOWN_GRACE_MS: '-1' })).toThrow(
      /AXON_SHUTDOWN_GRACE_MS/,
    );
  });
});

describe('npm start edge choice', () => {
  const root = mkdtempSync(join(tmpdir(), 'axon-edge-choice-'));
  const stage = (doc: unknown) => {
    mkdirSync(join(root, 'config', 'stages'), { recursive: true });
    writeFileSync(join(root, 'config', 'stages', 'dev.json'), JSON.stringify(doc));
  };
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('runs the Lambda edge when neither AXON_EDGE nor the dev stage names one', () => {
    expect(edgeFromEnv({}, join(root, 'nowhere'))).toBe('lambda');
    stage({ gateway: {} });
    expect(edgeFromEnv({}, root)).toBe('lambda');
  });

  it("follows the dev stage's gateway.edge, and AXON_EDGE over it", () => {
    stage({ gateway: { edge: 'container' } });
    expect(edgeFromEnv({}, root)).toBe('container');
    expect(edgeFromEnv({ AXON_EDGE: 'lambda' }, root)).toBe('lambda');
  });

  it('refuses an unknown AXON_EDGE, naming both edges', () => {
    expect(() => edgeFromEnv({ AXON_EDGE: 'fargate' }, root)).toThrow(
      'AXON_EDGE must be one of lambda, container, got "fargate"',
    );
  });

  it('reads AXON_STUB_TOKEN_DELAY_MS as whole milliseconds', () => {
    expect(stubTokenDelayFromEnv({})).toBe(0);
    expect(stubTokenDelayFromEnv({ AXON_STUB_TOKEN_DELAY_MS: '50' })).toBe(50);
    expect(() => stubTokenDelayFromEnv({ AXON_STUB_TOKEN_DELAY_MS: 'slow' })).toThrow(
      /AXON_STUB_TOKEN_DELAY_MS must be whole milliseconds/,
    );
  });
});
