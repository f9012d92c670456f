/**
 * The internet-facing ALB in front of the gateway Lambda: HTTPS with the stage's ACM certificate
 * and a modern TLS policy, HTTP redirected to HTTPS. A dev stage without a certificate gets plain
 * HTTP instead, with a synth warning. Every path goes to the Lambda, which answers unknown paths
 * with the SPEC's 404 envelope and an x-request-id.
 */
import { Annotations, Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as targets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';

export interface PublicLoadBalancerProps {
  readonly vpc: ec2.IVpc;
  readonly target: lambda.IFunction;
  /** ACM certificate for the HTTPS listener. @default - plain HTTP (dev only), with a warning */
  readonly certificateArn?: string;
  readonly accessLogs: s3.IBucket;
  /**
   * How long a request may stay open, 1 to 4000 seconds; must outlast the gateway Lambda.
   * @default Duration.seconds(60)
   */
  readonly idleTimeout?: Duration;
}

const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;

/** TLS 1.3 and TLS 1.2 with forward-secret AEAD ciphers only. */
export const TLS_POLICY = elbv2.SslPolicy.RECOMMENDED_TLS;

export class PublicLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly https: boolean;

  constructor(scope: Construct, id: string, props: PublicLoadBalancerProps) {
    super(scope, id);
    validate(props);
    this.https = props.certificateArn !== undefined;

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Public ALB of the Axon gateway: HTTP(S) from anywhere, behind AWS WAF',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Resource', {
      vpc: props.vpc,
      internetFacing: true,
      securityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      idleTimeout: props.idleTimeout,
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, 'gateway-alb');

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Gateway', {
      targetType: elbv2.TargetType.LAMBDA,
      targets: [new targets.LambdaTarget(props.target)],
      // The gateway reads repeated headers (X-Forwarded-For chains) and sets repeated ones.
      multiValueHeadersEnabled: true,
      healthCheck: { enabled: true, path: '/healthz', interval: Duration.minutes(1) },
    });

    if (props.certificateArn) {
      this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
        sslPolicy: TLS_POLICY,
        defaultTargetGroups: [this.targetGroup],
      });
      this.loadBalancer.addListener('Http', {
        port: 80,
        defaultAction: elbv2.ListenerAction.redirect({
          protocol: 'HTTPS',
          port: '443',
          permanent: true,
        }),
      });
    } else {
      this.loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [this.targetGroup] });
      Annotations.of(this).addWarningV2(
        'axon:gateway.plainHttp',
        'gateway.certificateArn is not set: the public ALB serves plain HTTP and API keys cross the internet unencrypted. Use this only for a dev stage; set gateway.certificateArn for anything else.',
      );
    }

    acknowledge(
      securityGroup,
      'AwsSolutions-EC23',
      'This is the public entry point of an internet API: ports 80 (redirect) and 443 must accept any address; AWS WAF with a per-address rate rule and the managed common rule set filters the traffic.',
    );
  }

  /** `https://<ALB DNS name>` (or http:// in a dev stage without a certificate). */
  get url(): string {
    return `${this.https ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;
  }
}

function validate(props: PublicLoadBalancerProps): void {
  const arn = props.certificateArn;
  if (arn !== undefined && !Token.isUnresolved(arn) && !ACM_ARN.test(arn)) {
    throw new Error(
      `public ALB certificateArn must be an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/<id>, got ${JSON.stringify(arn)}`,
    );
  }
  if (props.idleTimeout !== undefined) {
    const seconds = props.idleTimeout.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 4000) {
      throw new Error(
        `public ALB idleTimeout must be whole seconds from 1 to 4000, got ${seconds} seconds`,
      );
    }
  }
}
