/**
 * lambda/shared/names.ts is the one place the infrastructure and the runtime agree on names, so
 * both must be able to import it without pulling in the other's world.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV, STACK_PARTS, stackName } from '#shared/names';
import { repoPath } from '../../lib/paths.ts';
import { stageConfig, synth } from './support.ts';

describe('shared names', () => {
  it('imports nothing, so neither the AWS SDK nor aws-cdk-lib comes with it', () => {
    const source = readFileSync(repoPath('lambda', 'shared', 'names.ts'), 'utf8');
    expect(source.match(/^\s*(import|export)\s[^;]*\sfrom\s/gm) ?? []).toEqual([]);
    expect(source).not.toMatch(/\b(require|import)\s*\(/);
  });

  it('gives every environment variable its own name', () => {
    const values = Object.values(ENV);
    expect(new Set(values).size).toBe(values.length);
  });

  it('names the stacks the app creates', () => {
    const { stacks } = synth(stageConfig('dev'));
    expect(Object.values(stacks).map((s) => s.stackName)).toEqual(
      STACK_PARTS.map((part) => stackName('dev', part)),
    );
  });
});
