/** A stage's Triton at zero replicas: the fields that govern it and what is refused. */
import { describe, expect, it } from 'vitest';
import { StageConfigError } from '../../lib/config.ts';
import { parseDev } from './support.ts';

const triton = (patch: Record<string, unknown>) => {
  const { triton: base } = parseDev();
  // Dev's own idle fields are dropped, so each case sets only what it names.
  const doc = { image: base.image, idleMinutes: undefined, wakeWaitSeconds: undefined, ...patch };
  return parseDev({ triton: doc }).triton;
};

describe('triton scale to zero', () => {
  it('lets dev scale Triton to zero after 15 idle minutes, waiting 20 s for a wake', () => {
    expect(parseDev().triton).toMatchObject({
      minReplicas: 0,
      idleMinutes: 15,
      wakeWaitSeconds: 20,
    });
  });

  it('takes the idle period and the wait a stage sets', () => {
    expect(triton({ minReplicas: 0, idleMinutes: 60, wakeWaitSeconds: 0 })).toMatchObject({
      idleMinutes: 60,
      wakeWaitSeconds: 0,
    });
  });

  it.each([
    [
      'idleMinutes',
      { minReplicas: 1, idleMinutes: 15 },
      /triton\.idleMinutes only applies when minReplicas is 0/,
    ],
    [
      'wakeWaitSeconds',
      { minReplicas: 2, wakeWaitSeconds: 20 },
      /triton\.wakeWaitSeconds only applies when minReplicas is 0 .*it is 2/,
    ],
    [
      'a negative minimum',
      { minReplicas: -1 },
      /triton\.minReplicas must be a whole number from 0 to 100, got -1/,
    ],
    [
      'an idle period of 0',
      { minReplicas: 0, idleMinutes: 0 },
      /triton\.idleMinutes must be a whole number from 1 to 1440, got 0/,
    ],
    [
      'a wait of 10 minutes',
      { minReplicas: 0, wakeWaitSeconds: 600 },
      /triton\.wakeWaitSeconds must be a whole number from 0 to 300, got 600/,
    ],
  ])('refuses %s', (_what, patch, message) => {
    expect(() => triton(patch)).toThrow(StageConfigError);
    expect(() => triton(patch)).toThrow(message);
  });
});
