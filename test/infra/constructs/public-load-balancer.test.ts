/**
 * PublicLoadBalancer alone: plain HTTP with a warning when no certificate is given, HTTPS with a
 * redirect when one is, and the refusal of a certificate or idle timeout the ALB would reject.
 */
import { Duration } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
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

function build(overrides: Partial<PublicLoadBalancerProps> = {}) {
  const { stack, vpc } = bareStack();
  const alb = new PublicLoadBalancer(stack, 'Alb', {
    vpc,
    target: lambda.Function.fromFunctionArn(
      stack,
      'Target',
      'arn:aws:lambda:us-east-1:111111111111:function:gateway',
    ),
    accessLogs: new s3.Bucket(stack, 'Logs'),
    ...overrides,
  });
  return { stack, alb };
}

describe('PublicLoadBalancer defaults', () => {
  const { stack, alb } = build();

  it('serves plain HTTP on port 80 without a certificate, and warns about it', () => {
    const t = template(stack);
    t.resourceCountIs(LISTENER, 1);
    t.hasResourceProperties(LISTENER, { Port: 80, Protocol: 'HTTP' });
    expect(alb.url.startsWith('http://')).toBe(true);
    Annotations.fromStack(stack).hasWarning('/Test/Alb', Match.stringLikeRegexp('plain HTTP'));
  });

  it('leaves the idle timeout at the ALB default of 60 seconds', () => {
    template(stack).hasResourceProperties(ALB, {
      LoadBalancerAttributes: Match.not(
        Match.arrayWith([Match.objectLike({ Key: 'idle_timeout.timeout_seconds' })]),
      ),
    });
  });
});

describe('PublicLoadBalancer props', () => {
  it('serves HTTPS with the certificate and redirects HTTP to it', () => {
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
    expect(alb.url.startsWith('https://')).toBe(true);
  });

  it('applies the idle timeout', () => {
    const { stack } = build({ idleTimeout: Duration.seconds(70) });
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
    expect(() => build({ idleTimeout: Duration.seconds(4001) })).toThrow(
      /idleTimeout must be whole seconds from 1 to 4000, got 4001 seconds/,
    );
  });
});
