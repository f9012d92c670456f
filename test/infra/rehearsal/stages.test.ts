/**
 * The deploy rehearsal on every stage file: synthesizes each stage once and runs every rule in
 * rules.ts on what its templates ask the cluster to do.
 */
import { readdirSync } from 'node:fs';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../../lib/paths.ts';
import { stageConfig, synth } from '../support.ts';
import { type ClusterModel, clusterFromTemplates } from './cluster.ts';
import { implicitLogGroupProblems } from './log-groups.ts';
import { RULES } from './rules.ts';

const STAGES = readdirSync(repoPath('config', 'stages'))
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));

it('finds the stage files to rehearse', () => {
  expect(STAGES).toContain('dev');
});

describe.each(STAGES)('stage %s', (stage) => {
  let cluster: ClusterModel;
  let templates: Template[];
  beforeAll(() => {
    templates = Object.values(synth(stageConfig(stage)).templates);
    cluster = clusterFromTemplates(templates);
  });

  it('creates, with retention, the log groups AWS would otherwise create without', () => {
    expect(implicitLogGroupProblems(templates)).toEqual([]);
  });

  it('applies Kubernetes objects and has node pools to check', () => {
    expect(cluster.objects.length).toBeGreaterThan(0);
    expect(cluster.pools.length).toBeGreaterThan(0);
  });

  it.each(Object.keys(RULES))('%s', (name) => {
    expect(RULES[name]?.(cluster)).toEqual([]);
  });
});
