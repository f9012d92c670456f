/**
 * cdk-nag v3 (AWS Solutions pack) over every stack of the shipped stages (dev with either edge,
 * prod): no unacknowledged finding, every acknowledgement carries a specific reason and still
 * matches a real finding.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { stageConfig, synth } from './support.ts';

const stages = {
  dev: synth(stageConfig('dev')),
  'dev-container': synth(stageConfig('dev-container')),
  prod: synth(stageConfig('prod')),
};

interface Finding {
  rule: string;
  path: string;
}

function check(app: IConstruct, honourAcknowledgements = true): Finding[] {
  const pack = new AwsSolutionsChecks(app);
  if (!honourAcknowledgements) {
    // Raw findings, to prove each acknowledgement still matches something.
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  }
  return pack
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })),
    );
}

interface Acknowledgement {
  id: string;
  reason: string;
  path: string;
}

function acknowledgements(app: IConstruct): Acknowledgement[] {
  return app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ''),
          reason,
          path: c.node.path,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it.each(Object.keys(stages))('finds nothing unacknowledged in the %s app', (stage) => {
    const { app } = stages[stage as keyof typeof stages];
    expect(check(app)).toEqual([]);
  });

  it.each(Object.keys(stages))('gives every acknowledgement in %s a specific reason', (stage) => {
    const acks = acknowledgements(stages[stage as keyof typeof stages].app);
    expect(acks.length).toBeGreaterThan(10);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(60);
      expect(ack.reason, `${ack.id} at ${ack.path}`).not.toMatch(/^(todo|n\/a|ok|fine|suppress)/i);
    }
  });

  it('acknowledges only findings that exist in some shipped stage (no stale acknowledgement)', () => {
    // An acknowledgement may be needed in one stage only (dev's access-log bucket is also a log
    // target, which nag accepts; prod's is not), so paths are compared with the stage removed.
    const generic = (path: string) =>
      path.replace(/^Axon-[a-z0-9-]+?-(Network|Data|Inference|Gateway)/, 'Axon-*-$1');
    const raw = Object.values(stages).flatMap(({ app }) =>
      check(app, false).map((f) => ({ ...f, path: generic(f.path) })),
    );
    const stale = Object.values(stages)
      .flatMap(({ app }) => acknowledgements(app))
      .filter((ack) => ack.id.startsWith('AwsSolutions-'))
      .map((ack) => ({ ...ack, path: generic(ack.path) }))
      .filter(
        (ack) =>
          !raw.some(
            (f) => f.rule === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)),
          ),
      );
    expect(stale.map((a) => `${a.id} at ${a.path}`)).toEqual([]);
  });

  it('acknowledges findings one by one, never a whole rule family on a stack or the app', () => {
    for (const { app } of Object.values(stages)) {
      for (const ack of acknowledgements(app).filter((a) => a.id.startsWith('AwsSolutions-'))) {
        expect(ack.path.split('/').length, `${ack.id} at ${ack.path}`).toBeGreaterThan(1);
        if (/^AwsSolutions-IAM[45]$/.test(ack.id)) throw new Error(`bare ${ack.id} at ${ack.path}`);
      }
    }
  });

  it('reports findings when something is not compliant (the check is live)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new sns.Topic(stack, 'Plain');
    expect(check(app).map((f) => f.rule)).toEqual(expect.arrayContaining(['AwsSolutions-SNS3']));
  });
});
