/**
 * AWS WAF in front of the public ALB: the AWS managed common rule set and known-bad-inputs set,
 * and a rate-based rule per client address. The common set's 8 KB body limit is switched to
 * count, because chat prompts are legitimately larger (the gateway caps bodies at 1 MB itself).
 * WAF logs redact the Authorization header, so API keys never reach a log.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface GatewayWebAclProps {
  /** ARN of the ALB to protect. */
  readonly resourceArn: string;
  /**
   * Requests per client address per 5 minutes before WAF answers 429; WAF accepts 10 to
   * 2,000,000,000. @default 3000
   */
  readonly requestsPerFiveMinutes?: number;
  /**
   * Prefix of the CloudWatch metric names, also in the WAF log group's name
   * (`aws-waf-logs-<prefix, lowercased>`): letters, digits, `-` and `_`. @default 'Axon'
   */
  readonly metricPrefix?: string;
}

const METRIC_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

const RATE_LIMITED_BODY = JSON.stringify({
  error: {
    message: 'Too many requests from your address; wait a few minutes and retry.',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
  },
});

export class GatewayWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: GatewayWebAclProps) {
    super(scope, id);
    const requestsPerFiveMinutes = props.requestsPerFiveMinutes ?? 3000;
    const metricPrefix = props.metricPrefix ?? 'Axon';
    if (
      !Number.isInteger(requestsPerFiveMinutes) ||
      requestsPerFiveMinutes < 10 ||
      requestsPerFiveMinutes > 2_000_000_000
    ) {
      throw new Error(
        `WAF requestsPerFiveMinutes must be a whole number from 10 to 2000000000, got ${requestsPerFiveMinutes}`,
      );
    }
    if (!METRIC_PREFIX.test(metricPrefix)) {
      throw new Error(
        `WAF metricPrefix must be 1 to 64 letters, digits, '-' or '_', got ${JSON.stringify(metricPrefix)}`,
      );
    }
    const visibility = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${metricPrefix}${name}`,
    });
    const managed = (name: string, priority: number, overrides: string[] = []) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(overrides.length > 0 && {
            ruleActionOverrides: overrides.map((rule) => ({
              name: rule,
              actionToUse: { count: {} },
            })),
          }),
        },
      },
      visibilityConfig: visibility(name),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'Resource', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('WebAcl'),
      customResponseBodies: {
        RateLimited: { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY },
      },
      rules: [
        {
          name: 'RateLimitPerAddress',
          priority: 0,
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'RateLimited',
                responseHeaders: [{ name: 'retry-after', value: '60' }],
              },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: requestsPerFiveMinutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          visibilityConfig: visibility('RateLimitPerAddress'),
        },
        managed('AWSManagedRulesCommonRuleSet', 1, ['SizeRestrictions_BODY']),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.resourceArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF requires the log group name to start with aws-waf-logs-. A fixed name would block
    // re-creating the stage after a tear down if the group were retained, so it goes with the stack.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${metricPrefix.toLowerCase()}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // WAF wants the log group ARN without the ':*' suffix CDK's logGroupArn carries.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
    });
  }
}
