/**
 * The bootstrap version the preflight requires comes from the installed aws-cdk-lib, not from a
 * number in the repo. This synthesizes for real (no stand-in) and cross-checks the manifest's
 * number against the CheckBootstrapVersion rule CloudFormation evaluates on every deploy.
 */
import { createRequire } from 'node:module';
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { requiredBootstrapVersion } from '../../lib/preflight/bootstrap-version.ts';

/** The versions the template's rule rejects: `Fn::Not [Fn::Contains [[...], Ref BootstrapVersion]]`. */
function versionsTheRuleRejects(): number[] {
  const app = new App();
  const stack = new Stack(app, 'RuleProbe');
  new CfnWaitConditionHandle(stack, 'Placeholder');
  const rule = Template.fromStack(stack).toJSON().Rules.CheckBootstrapVersion;
  const rejected: string[] = rule.Assertions[0].Assert['Fn::Not'][0]['Fn::Contains'][0];
  return rejected.map(Number);
}

describe('required bootstrap version', () => {
  it('is what the synthesized templates enforce, read from the installed aws-cdk-lib', () => {
    const required = requiredBootstrapVersion();
    const rejected = versionsTheRuleRejects();
    expect(Math.max(...rejected) + 1).toBe(required.deploy);
    expect(required.lookup).toBeGreaterThanOrEqual(required.deploy);
    expect(required.parameterName).toBe('/cdk-bootstrap/hnb659fds/version');
    const pkg = createRequire(import.meta.url)('aws-cdk-lib/package.json') as { version: string };
    expect(required.cdkLibVersion).toBe(pkg.version);
  });
});
