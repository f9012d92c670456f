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

/**
 * Every rule of the managed groups the ACL runs, as AWS documents the current versions
 * (describe-managed-rule-group lists them). Written out here, not imported from the construct,
 * so a change to the construct cannot change what the test expects.
 */
const GROUP_RULES: Record<string, readonly string[]> = {
  AWSManagedRulesAmazonIpReputationList: [
    'AWSManagedIPReputationList',
    'AWSManagedReconnaissanceList',
    'AWSManagedIPDDoSList',
  ],
  AWSManagedRulesCommonRuleSet: [
    'NoUserAgent_HEADER',
    'UserAgent_BadBots_HEADER',
    'SizeRestrictions_QUERYSTRING',
    'SizeRestrictions_Cookie_HEADER',
    'SizeRestrictions_BODY',
    'SizeRestrictions_URIPATH',
    'EC2MetaDataSSRF_BODY',
    'EC2MetaDataSSRF_COOKIE',
    'EC2MetaDataSSRF_URIPATH',
    'EC2MetaDataSSRF_QUERYARGUMENTS',
    'GenericLFI_QUERYARGUMENTS',
    'GenericLFI_URIPATH',
    'GenericLFI_BODY',
    'RestrictedExtensions_URIPATH',
    'RestrictedExtensions_QUERYARGUMENTS',
    'GenericRFI_QUERYARGUMENTS',
    'GenericRFI_BODY',
    'GenericRFI_URIPATH',
    'CrossSiteScripting_COOKIE',
    'CrossSiteScripting_QUERYARGUMENTS',
    'CrossSiteScripting_BODY',
    'CrossSiteScripting_URIPATH',
  ],
  AWSManagedRulesKnownBadInputsRuleSet: [
    'JavaDeserializationRCE_HEADER',
    'JavaDeserializationRCE_BODY',
    'JavaDeserializationRCE_URIPATH',
    'JavaDeserializationRCE_QUERYSTRING',
    'Host_localhost_HEADER',
    'PROPFIND_METHOD',
    'ExploitablePaths_URIPATH',
    'Log4JRCE_HEADER',
    'Log4JRCE_QUERYSTRING',
    'Log4JRCE_BODY',
    'Log4JRCE_URIPATH',
    'ReactJSRCE_BODY',
  ],
};

/** What the ACL does, rule by rule: `group/rule` -> the action a match gets. */
const EXPECTED_ACTIONS: Record<string, string> = {
  RateLimitPerAddress: 'Block 429',
  'AWSManagedRulesAmazonIpReputationList/AWSManagedIPReputationList': 'group action',
  'AWSManagedRulesAmazonIpReputationList/AWSManagedReconnaissanceList': 'group action',
  'AWSManagedRulesAmazonIpReputationList/AWSManagedIPDDoSList': 'group action',
  // Headers, URI path, query string and cookies: the group's own action (Block).
  ...Object.fromEntries(
    ['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet'].flatMap((group) =>
      (GROUP_RULES[group] ?? [])
        .filter((rule) => !rule.endsWith('_BODY'))
        .map((rule) => [`${group}/${rule}`, 'group action']),
    ),
  ),
  // Every rule that reads the body counts: prompts carry code, markup, paths and URLs.
  'AWSManagedRulesCommonRuleSet/SizeRestrictions_BODY': 'Count',
  'AWSManagedRulesCommonRuleSet/EC2MetaDataSSRF_BODY': 'Count',
  'AWSManagedRulesCommonRuleSet/GenericLFI_BODY': 'Count',
  'AWSManagedRulesCommonRuleSet/GenericRFI_BODY': 'Count',
  'AWSManagedRulesCommonRuleSet/CrossSiteScripting_BODY': 'Count',
  'AWSManagedRulesKnownBadInputsRuleSet/JavaDeserializationRCE_BODY': 'Count',
  'AWSManagedRulesKnownBadInputsRuleSet/Log4JRCE_BODY': 'Count',
  'AWSManagedRulesKnownBadInputsRuleSet/ReactJSRCE_BODY': 'Count',
};

interface AclRule {
  Name: string;
  Priority: number;
  Action?: { Block?: { CustomResponse?: { ResponseCode: number } } };
  OverrideAction?: Record<string, unknown>;
  Statement: {
    ManagedRuleGroupStatement?: {
      Name: string;
      RuleActionOverrides?: { Name: string; ActionToUse: Record<string, unknown> }[];
    };
  };
}

/**
 * The action each rule of a synthesized web ACL takes. Throws on what would make a row
 * meaningless: a group-wide override, or an override naming a rule the group does not have
 * (WAF accepts it and it does nothing, so a typo would quietly restore blocking).
 */
function ruleActions(rules: readonly AclRule[]): Record<string, string> {
  const actions: Record<string, string> = {};
  for (const rule of rules) {
    const group = rule.Statement.ManagedRuleGroupStatement;
    if (!group) {
      const code = rule.Action?.Block?.CustomResponse?.ResponseCode;
      actions[rule.Name] = rule.Action?.Block ? `Block${code ? ` ${code}` : ''}` : 'other';
      continue;
    }
    if (JSON.stringify(rule.OverrideAction) !== '{"None":{}}') {
      throw new Error(
        `${rule.Name} overrides the whole group: ${JSON.stringify(rule.OverrideAction)}`,
      );
    }
    const known = GROUP_RULES[group.Name] ?? [];
    const overrides = new Map(
      (group.RuleActionOverrides ?? []).map((o) => [o.Name, Object.keys(o.ActionToUse).join()]),
    );
    for (const name of overrides.keys()) {
      if (!known.includes(name)) throw new Error(`${group.Name} has no rule ${name}`);
    }
    for (const name of known)
      actions[`${group.Name}/${name}`] = overrides.get(name) ?? 'group action';
  }
  return actions;
}

function aclRules(t: ReturnType<typeof build>): AclRule[] {
  const [acl] = Object.values(t.findResources('AWS::WAFv2::WebACL')) as {
    Properties: { Rules: AclRule[] };
  }[];
  return acl?.Properties.Rules ?? [];
}

describe('GatewayWebAcl rule actions', () => {
  const rules = aclRules(build());

  it('blocks or counts each rule exactly as reviewed, so no prompt body is blocked', () => {
    expect(ruleActions(rules)).toEqual(EXPECTED_ACTIONS);
  });

  it('runs the rate rule, then IP reputation, then the common and known-bad-inputs sets', () => {
    expect([...rules].sort((a, b) => a.Priority - b.Priority).map((r) => r.Name)).toEqual([
      'RateLimitPerAddress',
      'AWSManagedRulesAmazonIpReputationList',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
  });

  it('notices a body rule switched back to block (the check is live)', () => {
    const broken = structuredClone(rules);
    const crs = broken.find((r) => r.Name === 'AWSManagedRulesCommonRuleSet');
    const statement = crs?.Statement.ManagedRuleGroupStatement;
    if (!statement?.RuleActionOverrides) throw new Error('no overrides to break');
    statement.RuleActionOverrides = statement.RuleActionOverrides.filter(
      (o) => o.Name !== 'CrossSiteScripting_BODY',
    );
    expect(ruleActions(broken)['AWSManagedRulesCommonRuleSet/CrossSiteScripting_BODY']).toBe(
      'group action',
    );
    expect(ruleActions(broken)).not.toEqual(EXPECTED_ACTIONS);
  });

  it('refuses an override that names a rule the group does not have', () => {
    const broken = structuredClone(rules);
    const statement = broken.find((r) => r.Name === 'AWSManagedRulesCommonRuleSet')?.Statement
      .ManagedRuleGroupStatement;
    statement?.RuleActionOverrides?.push({
      Name: 'CrossSiteScripting_Body',
      ActionToUse: { Count: {} },
    });
    expect(() => ruleActions(broken)).toThrow(
      /AWSManagedRulesCommonRuleSet has no rule CrossSiteScripting_Body/,
    );
  });
});
