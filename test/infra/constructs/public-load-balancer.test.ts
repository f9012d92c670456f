/**
 * PublicLoadBalancer alone: HTTPS by default (a certificate it requests for a domain, or one
 * given by ARN) with HTTP redirected, plain HTTP only when asked for and with a warning, and the
 * refusal of every combination that does not say clearly which of the three it is.
 */
import { Duration } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import {
  PublicLoadBalancer,
  type PublicLoadBalancerProps,
} from '../../../lib/constructs/public-load-balancer.ts';
import { bareStack, template } from './support.ts';

const CERT = 'arn:aws:acm:us-east-1:111111111111:certificate/abcd-1234';
const LISTENER = 'AWS::ElasticLoadBalancingV2::Listener';
const ALB = 'AWS::ElasticLoadBalancingV2::LoadBalancer';

function build(
  overrides: Partial<PublicLoadBalancerProps> = {},
  zone?: { hostedZoneId: string; zoneName: string },
) {
  const { stack, vpc } = bareStack();
  const hostedZone = zone && route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', zone);
  const alb = new PublicLoadBalancer(stack, 'Alb', {
    vpc,
    target: lambda.Function.fromFunctionArn(
      stack,
      'Target',
      'arn:aws:lambda:us-east-1:111111111111:function:gateway',
    ),
    accessLogs: new s3.Bucket(stack, 'Logs'),
    ...(hostedZone && { hostedZone }),
    ...overrides,
  });
  return { stack, alb };
}

const ZONE = { hostedZoneId: 'Z123EXAMPLE', zoneName: 'example.com' };

describe('PublicLoadBalancer defaults', () => {
  it('refuses to serve without a TLS choice: HTTPS is the default, plain HTTP an opt-in', () => {
    expect(() => build()).toThrow(
      /needs domainName with hostedZone, or certificateArn, for HTTPS; set allowPlainHttp: true only for a dev stage/,
    );
  });

  it('leaves the idle timeout at the ALB default of 60 seconds', () => {
    const { stack } = build({ certificateArn: CERT });
    template(stack).hasResourceProperties(ALB, {
      LoadBalancerAttributes: Match.not(
        Match.arrayWith([Match.objectLike({ Key: 'idle_timeout.timeout_seconds' })]),
      ),
    });
  });
});

describe('PublicLoadBalancer props', () => {
  it('with a domain and its zone, requests a DNS-validated certificate and serves HTTPS with it', () => {
    const { stack, alb } = build({ domainName: 'api.example.com' }, ZONE);
    const t = template(stack);
    t.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'api.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'api.example.com', HostedZoneId: 'Z123EXAMPLE' }],
    });
    t.hasResourceProperties(LISTENER, {
      Port: 443,
      Protocol: 'HTTPS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      Certificates: [{ CertificateArn: { Ref: Match.stringLikeRegexp('^AlbCertificate') } }],
    });
    t.hasResourceProperties(LISTENER, {
      Port: 80,
      DefaultActions: [Match.objectLike({ Type: 'redirect' })],
    });
    expect(alb.url).toBe('https://api.example.com');
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('plain HTTP'));
  });

  it('with a domain, creates the alias record to the ALB in the given zone', () => {
    const { stack } = build({ domainName: 'api.example.com' }, ZONE);
    template(stack).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'api.example.com.',
      Type: 'A',
      HostedZoneId: 'Z123EXAMPLE',
      AliasTarget: Match.objectLike({
        DNSName: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
      }),
    });
  });

  it('accepts a domain that is the zone apex', () => {
    const { stack } = build({ domainName: 'example.com' }, ZONE);
    template(stack).resourceCountIs('AWS::CertificateManager::Certificate', 1);
  });

  it('with a certificate ARN, serves HTTPS with it, redirects HTTP and leaves DNS alone', () => {
    const { stack, alb } = build({ certificateArn: CERT });
    const t = template(stack);
    t.hasResourceProperties(LISTENER, {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERT }],
    });
    t.hasResourceProperties(LISTENER, {
      Port: 80,
      DefaultActions: [Match.objectLike({ Type: 'redirect' })],
    });
    t.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    t.resourceCountIs('AWS::Route53::RecordSet', 0);
    expect(alb.url.startsWith('https://')).toBe(true);
  });

  it('serves plain HTTP on port 80 only with allowPlainHttp, and warns about it', () => {
    const { stack, alb } = build({ allowPlainHttp: true });
    const t = template(stack);
    t.resourceCountIs(LISTENER, 1);
    t.hasResourceProperties(LISTENER, { Port: 80, Protocol: 'HTTP' });
    expect(alb.url.startsWith('http://')).toBe(true);
    Annotations.fromStack(stack).hasWarning('/Test/Alb', Match.stringLikeRegexp('plain HTTP'));
  });

  it('applies the idle timeout', () => {
    const { stack } = build({ certificateArn: CERT, idleTimeout: Duration.seconds(70) });
    template(stack).hasResourceProperties(ALB, {
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '70' },
      ]),
    });
  });
});

describe('PublicLoadBalancer validation', () => {
  it('refuses a certificate ARN that is not from ACM', () => {
    expect(() =>
      build({ certificateArn: 'arn:aws:iam::111111111111:server-certificate/x' }),
    ).toThrow(/certificateArn must be an ACM certificate ARN/);
  });

  it('refuses an idle timeout over 4000 seconds', () => {
    expect(() => build({ certificateArn: CERT, idleTimeout: Duration.seconds(4001) })).toThrow(
      /idleTimeout must be whole seconds from 1 to 4000, got 4001 seconds/,
    );
  });

  it('refuses a domain without its hosted zone', () => {
    expect(() => build({ domainName: 'api.example.com' })).toThrow(
      /domainName api\.example\.com needs hostedZone/,
    );
  });

  it('refuses a hosted zone without a domain', () => {
    expect(() => build({ certificateArn: CERT }, ZONE)).toThrow(/hostedZone needs domainName/);
  });

  it('refuses a domain outside the hosted zone', () => {
    expect(() => build({ domainName: 'api.example.org' }, ZONE)).toThrow(
      /domainName api\.example\.org is not in the hosted zone example\.com/,
    );
    expect(() => build({ domainName: 'notexample.com' }, ZONE)).toThrow(
      /is not in the hosted zone/,
    );
  });

  it('refuses both a certificate ARN and a domain', () => {
    expect(() => build({ certificateArn: CERT, domainName: 'api.example.com' }, ZONE)).toThrow(
      /takes certificateArn or domainName, not both/,
    );
  });

  it('refuses allowPlainHttp next to HTTPS', () => {
    expect(() => build({ certificateArn: CERT, allowPlainHttp: true })).toThrow(
      /allowPlainHttp is true but HTTPS is configured/,
    );
  });
});

describe('PublicLoadBalancer target', () => {
  it('refuses both a Lambda and a target group: one edge per stage', () => {
    const { stack, vpc } = bareStack();
    const targetGroup = new elbv2.ApplicationTargetGroup(stack, 'Pods', {
      vpc,
      port: 8080,
      targetType: elbv2.TargetType.IP,
    });
    expect(() => build({ allowPlainHttp: true, targetGroup })).toThrow(
      /needs exactly one of target \(the gateway Lambda\) and targetGroup \(the container edge\), got both/,
    );
  });

  it('refuses neither', () => {
    expect(() => build({ allowPlainHttp: true, target: undefined })).toThrow(/got neither/);
  });

  it('forwards to the container edge target group when given one', () => {
    const { stack, vpc } = bareStack();
    const targetGroup = new elbv2.ApplicationTargetGroup(stack, 'Pods', {
      vpc,
      port: 8080,
      targetType: elbv2.TargetType.IP,
    });
    new PublicLoadBalancer(stack, 'Alb', {
      vpc,
      targetGroup,
      allowPlainHttp: true,
      accessLogs: new s3.Bucket(stack, 'Logs'),
    });
    template(stack).hasResourceProperties(LISTENER, {
      DefaultActions: [
        { Type: 'forward', TargetGroupArn: { Ref: Match.stringLikeRegexp('^Pods') } },
      ],
    });
    template(stack).resourceCountIs('AWS::Lambda::Permission', 0);
  });
});
