/** GatewayWebAcl alone: its defaults and the refusal of values WAF would reject at deploy. */
import { describe, expect, it } from 'vitest';
import { GatewayWebAcl, type GatewayWebAclProps } from '../../../lib/constructs/gateway-web-acl.ts';
import { bareStack, template } from './support.ts';

const ALB_ARN =
  'arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/test/0123456789abcdef';

function build(overrides: Partial<GatewayWebAclProps> = {}) {
  const { stack } = bareStack();
  new GatewayWebAcl(stack, 'Waf', { resourceArn: ALB_ARN, ...overrides });
  return template(stack);
}

function rateLimit(t: ReturnType<typeof build>): unknown {
  const [acl] = Object.values(t.findResources('AWS::WAFv2::WebACL')) as {
    Properties: {
      Rules: { Name: string; Statement: { RateBasedStatement?: { Limit: number } } }[];
    };
  }[];
  return acl?.Properties.Rules.find((r) => r.Name === 'RateLimitPerAddress')?.Statement
    .RateBasedStatement?.Limit;
}

describe('GatewayWebAcl defaults', () => {
  const t = build();

  it('allows 3000 requests per address per 5 minutes', () => {
    expect(rateLimit(t)).toBe(3000);
  });

  it('prefixes metric names with Axon and logs to aws-waf-logs-axon', () => {
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      VisibilityConfig: { MetricName: 'AxonWebAcl' },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-axon' });
  });
});

describe('GatewayWebAcl props', () => {
  it('applies the rate limit and the metric prefix', () => {
    const t = build({ requestsPerFiveMinutes: 500, metricPrefix: 'Axonprod' });
    expect(rateLimit(t)).toBe(500);
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-axonprod' });
  });
});

describe('GatewayWebAcl validation', () => {
  it('refuses a rate limit under the 10 WAF accepts', () => {
    expect(() => build({ requestsPerFiveMinutes: 5 })).toThrow(
      /requestsPerFiveMinutes must be a whole number from 10 to 2000000000, got 5/,
    );
  });

  it('refuses a metric prefix with characters a metric or log group name cannot hold', () => {
    expect(() => build({ metricPrefix: 'Axon prod' })).toThrow(/metricPrefix .* got "Axon prod"/);
  });
});
