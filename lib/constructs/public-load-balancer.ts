/**
 * The internet-facing ALB in front of the gateway Lambda, HTTPS by default. Two ways to get
 * there: a `domainName` with its `hostedZone`, and the construct requests the ACM certificate,
 * validates it by DNS in that zone and creates the alias record; or a `certificateArn` you
 * manage, with DNS left to you. Either way the listener uses a modern TLS policy and port 80
 * only redirects to 443. Plain HTTP is an explicit `allowPlainHttp` opt-in for a dev stage, and
 * synth warns every time. Every path goes to the gateway (the Lambda, or the container edge's
 * target group), which answers unknown paths with the 404 envelope and an x-request-id.
 */
import { Annotations, Duration, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as targets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';

export interface PublicLoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /**
   * The gateway Lambda, as a Lambda target. Exactly one of `target` and `targetGroup`.
   * @default - none: `targetGroup` must be set
   */
  readonly target?: lambda.IFunction;
  /**
   * The container edge's IP target group: the ALB then streams the pods' answers.
   * @default - none: `target` must be set
   */
  readonly targetGroup?: elbv2.ApplicationTargetGroup;
  /**
   * A certificate you manage, for HTTPS with DNS left to you. Exclusive with `domainName`.
   * @default - none: `domainName` or `allowPlainHttp` must be set
   */
  readonly certificateArn?: string;
  /**
   * The API's name: the construct requests a DNS-validated certificate for it and creates an
   * alias record to the ALB in `hostedZone`. @default - none: `certificateArn` or `allowPlainHttp`
   */
  readonly domainName?: string;
  /** The public zone that holds `domainName`. @default - none; required with `domainName` */
  readonly hostedZone?: route53.IHostedZone;
  /**
   * Serve plain HTTP on port 80 when there is no certificate: API keys then cross the internet in
   * clear text, so only a dev stage may do it and synth warns. @default false
   */
  readonly allowPlainHttp?: boolean;
  readonly accessLogs: s3.IBucket;
  /**
   * How long a connection may stay idle, 1 to 4000 seconds; must outlast the gateway Lambda,
   * or, with the container edge, the longest silence of a generation.
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
  /** The certificate the construct requested for `domainName`, if it did. */
  readonly certificate?: acm.Certificate;
  /** The alias record of `domainName`, if the construct made one. */
  readonly record?: route53.ARecord;
  private readonly domainName?: string;

  constructor(scope: Construct, id: string, props: PublicLoadBalancerProps) {
    super(scope, id);
    validate(props);
    this.https = props.certificateArn !== undefined || props.domainName !== undefined;
    this.domainName = props.domainName;

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

    this.targetGroup =
      props.targetGroup ??
      new elbv2.ApplicationTargetGroup(this, 'Gateway', {
        targetType: elbv2.TargetType.LAMBDA,
        targets: props.target ? [new targets.LambdaTarget(props.target)] : [],
        // The gateway reads repeated headers (X-Forwarded-For chains) and sets repeated ones.
        multiValueHeadersEnabled: true,
        healthCheck: { enabled: true, path: '/healthz', interval: Duration.minutes(1) },
      });

    if (props.domainName && props.hostedZone) {
      // CloudFormation waits for the DNS validation record the certificate adds to the zone, so
      // the first deploy of a stage takes a few minutes longer; later deploys reuse it.
      this.certificate = new acm.Certificate(this, 'Certificate', {
        domainName: props.domainName,
        validation: acm.CertificateValidation.fromDns(props.hostedZone),
      });
      this.record = new route53.ARecord(this, 'Alias', {
        zone: props.hostedZone,
        recordName: props.domainName,
        target: route53.RecordTarget.fromAlias(
          new route53Targets.LoadBalancerTarget(this.loadBalancer),
        ),
      });
    }
    const certificateArn = this.certificate?.certificateArn ?? props.certificateArn;

    if (certificateArn) {
      this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
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
        'gateway.allowPlainHttp is set: the public ALB serves plain HTTP and API keys cross the internet unencrypted. Use this only for a dev stage; set gateway.domainName (with hostedZoneId and hostedZoneName) or gateway.certificateArn for anything else.',
      );
    }

    acknowledge(
      securityGroup,
      'AwsSolutions-EC23',
      'This is the public entry point of an internet API: ports 80 (redirect) and 443 must accept any address; AWS WAF with a per-address rate rule and the managed common rule set filters the traffic.',
    );
  }

  /** Base URL clients use: `https://<domain>`, `https://<ALB DNS name>`, or http:// in dev. */
  get url(): string {
    if (this.domainName) return `https://${this.domainName}`;
    return `${this.https ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;
  }
}

function validate(props: PublicLoadBalancerProps): void {
  if ((props.target === undefined) === (props.targetGroup === undefined)) {
    throw new Error(
      'public ALB needs exactly one of target (the gateway Lambda) and targetGroup (the container edge), got ' +
        (props.target ? 'both' : 'neither'),
    );
  }
  const arn = props.certificateArn;
  if (arn !== undefined && !Token.isUnresolved(arn) && !ACM_ARN.test(arn)) {
    throw new Error(
      `public ALB certificateArn must be an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/<id>, got ${JSON.stringify(arn)}`,
    );
  }
  if (arn !== undefined && props.domainName !== undefined) {
    throw new Error(
      `public ALB takes certificateArn or domainName, not both (got ${arn} and ${props.domainName}): domainName makes the construct request the certificate, certificateArn uses yours`,
    );
  }
  if (props.domainName !== undefined && props.hostedZone === undefined) {
    throw new Error(
      `public ALB domainName ${props.domainName} needs hostedZone: the public zone that validates the certificate and holds the alias record`,
    );
  }
  if (props.hostedZone !== undefined && props.domainName === undefined) {
    throw new Error('public ALB hostedZone needs domainName: the name to certify in that zone');
  }
  const zoneName = props.hostedZone?.zoneName;
  const domain = props.domainName;
  if (
    domain !== undefined &&
    zoneName !== undefined &&
    !Token.isUnresolved(zoneName) &&
    !Token.isUnresolved(domain) &&
    domain !== zoneName &&
    !domain.endsWith(`.${zoneName}`)
  ) {
    throw new Error(
      `public ALB domainName ${domain} is not in the hosted zone ${zoneName}; pass the zone the domain belongs to`,
    );
  }
  const https = arn !== undefined || domain !== undefined;
  if (!https && props.allowPlainHttp !== true) {
    throw new Error(
      'public ALB needs domainName with hostedZone, or certificateArn, for HTTPS; set allowPlainHttp: true only for a dev stage that may serve plain HTTP',
    );
  }
  if (https && props.allowPlainHttp === true) {
    throw new Error(
      'public ALB allowPlainHttp is true but HTTPS is configured; drop allowPlainHttp (port 80 only redirects to HTTPS)',
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
