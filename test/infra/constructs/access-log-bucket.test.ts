/** AccessLogBucket alone: its default expiry and the refusal of a useless one. */
import { describe, expect, it } from 'vitest';
import { AccessLogBucket } from '../../../lib/constructs/access-log-bucket.ts';
import { bareStack, template } from './support.ts';

describe('AccessLogBucket', () => {
  it('expires logs after 90 days by default', () => {
    const { stack } = bareStack();
    new AccessLogBucket(stack, 'Logs');
    template(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
    });
  });

  it('expires logs after the given days', () => {
    const { stack } = bareStack();
    new AccessLogBucket(stack, 'Logs', { expirationDays: 400 });
    template(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 400, Status: 'Enabled' }] },
    });
  });

  it('refuses an expiry under one day', () => {
    const { stack } = bareStack();
    expect(() => new AccessLogBucket(stack, 'Logs', { expirationDays: 0 })).toThrow(
      /expirationDays must be a whole number of days, at least 1, got 0/,
    );
  });
});
