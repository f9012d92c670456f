/**
 * AWS WAF in front of the public ALB, tuned for an LLM API whose request bodies are prompts:
 * code, HTML, SQL, shell commands and file paths are what people send to a model all day, so
 * every managed rule that inspects the body counts instead of blocking (`BODY_RULES_COUNTED`,
 * each with its reason). What still blocks: a rate-based rule per client address, the Amazon IP
 * reputation list, and the common and known-bad-inputs rule sets on headers, URI path, query
 * string and cookies. AWSManagedRulesSQLiRuleSet is not used: nothing behind the gateway speaks
 * SQL (keys are read from DynamoDB by hash), SQL is a common prompt topic so its body rules would
 * only count, and the API takes no query parameters it would pass to a database. WAF logs redact the Authorization header, so API keys never reach a log.
 *
 * An ALB hands WAF only the first 8 KB of a body, so the WAF cannot be where the body size is
 * enforced: the gateway refuses bodies over 1 MB itself (413 in the error envelope, see
 * lambda/gateway/gateway.ts), and the ALB cannot pass a Lambda target more than 1 MB anyway.
 * No blocking rule here matches on the body, so WAF's oversize handling cannot turn a long
 * prompt into a 403; the managed groups' own body rules keep the oversize handling AWS gives
 * them and only count.
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

/**
 * The body-inspecting rules of the two managed groups, set to count, with why each one would
 * otherwise block ordinary prompts. A counted rule still labels the request and shows in the
 * WAF metrics and logs, so a real attack pattern stays visible. Names are those of the current
 * versions of AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet.
 */
export const BODY_RULES_COUNTED = {
  AWSManagedRulesCommonRuleSet: {
    SizeRestrictions_BODY:
      'Blocks bodies over 8 KB; a chat request with history is routinely larger. The gateway caps bodies at 1 MB instead.',
    CrossSiteScripting_BODY:
      'Matches <script>, event handlers and HTML; prompts ask about web pages and paste markup. Nothing renders a prompt as HTML.',
    GenericLFI_BODY:
      'Matches ../ and paths such as /etc/passwd; prompts paste shell sessions and file trees. No body value reaches a filesystem.',
    GenericRFI_BODY:
      'Matches URLs with IP addresses and schemes; prompts paste links and curl commands. The gateway fetches no URL from a body.',
    EC2MetaDataSSRF_BODY:
      'Matches 169.254.169.254; prompts ask how the instance metadata service works. The gateway never requests a URL taken from a body.',
  },
  AWSManagedRulesKnownBadInputsRuleSet: {
    JavaDeserializationRCE_BODY:
      'Matches Java serialization and Runtime.exec patterns; prompts paste Java code. No Java process deserializes the body.',
    Log4JRCE_BODY:
      'Matches JNDI lookup strings (the Log4Shell payload); prompts ask about Log4Shell. The gateway and session manager are Node.js, no Log4j reads the body.',
    ReactJSRCE_BODY:
      'Matches React Server Components payload patterns; prompts paste React code. No React server parses the body.',
  },
} as const satisfies Record<string, Record<string, string>>;

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
    // overrideAction none: each rule of the group keeps its own action (Block for all these
    // rules, Count for AWSManagedIPDDoSList) unless it is listed in `counted`.
    const managed = (
      name: string,
      priority: number,
      counted: Readonly<Record<string, string>> = {},
    ) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(Object.keys(counted).length > 0 && {
            ruleActionOverrides: Object.keys(counted).map((rule) => ({
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
        // Addresses AWS threat intelligence lists as attackers or scanners: blocked before any
        // other rule spends capacity on them.
        managed('AWSManagedRulesAmazonIpReputationList', 1),
        managed('AWSManagedRulesCommonRuleSet', 2, BODY_RULES_COUNTED.AWSManagedRulesCommonRuleSet),
        managed(
          'AWSManagedRulesKnownBadInputsRuleSet',
          3,
          BODY_RULES_COUNTED.AWSManagedRulesKnownBadInputsRuleSet,
        ),
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
