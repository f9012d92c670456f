/**
 * Certificate, hosted zone and plain-HTTP checks, against the ACM and Route 53 stand-ins of
 * support.ts (aws-sdk-client-mock: the AWS control plane cannot run here).
 */
import { type CertificateDetail, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import {
  checkCertificate,
  checkHostedZone,
  checkHttps,
  covers,
} from '../../lib/preflight/endpoint.ts';
import {
  awsError,
  CERT_ARN,
  devInputs,
  healthyAccount,
  httpsInputs,
  mockedClients,
  ZONE_ID,
} from './support.ts';

const NOW = new Date('2026-11-30T08:00:00Z');

function certificate(fields: Partial<CertificateDetail>): { Certificate: CertificateDetail } {
  return {
    Certificate: {
      CertificateArn: CERT_ARN,
      DomainName: 'api.example.com',
      Status: 'ISSUED',
      Type: 'AMAZON_ISSUED',
      ...fields,
    },
  };
}

describe('certificate name matching', () => {
  it('matches exactly or by a wildcard for one leftmost label only', () => {
    expect(covers('api.example.com', 'API.example.com')).toBe(true);
    expect(covers('*.example.com', 'api.example.com')).toBe(true);
    expect(covers('*.example.com', 'example.com')).toBe(false);
    expect(covers('*.example.com', 'a.b.example.com')).toBe(false);
    expect(covers('example.com', 'api.example.com')).toBe(false);
  });
});

describe('certificate check', () => {
  it('passes an ISSUED certificate whose wildcard covers the domain', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row).toEqual({
      check: 'certificate',
      status: 'PASS',
      detail: 'ISSUED, covers api.example.com (example.com, *.example.com)',
    });
  });

  it('adds no row when the stage names no certificate', async () => {
    const { clients } = mockedClients();
    expect(await checkCertificate(clients.acm, devInputs(), NOW)).toBeUndefined();
  });

  it('fails a certificate still waiting for DNS validation, saying which records to add', async () => {
    const { clients, mocks } = mockedClients();
    mocks.acm
      .on(DescribeCertificateCommand)
      .resolves(certificate({ Status: 'PENDING_VALIDATION' }));
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toBe('the certificate is PENDING_VALIDATION, not ISSUED');
    expect(row?.fix).toContain('DNS validation CNAME');
  });

  it('fails a certificate that does not cover the domain', async () => {
    const { clients, mocks } = mockedClients();
    mocks.acm.on(DescribeCertificateCommand).resolves(
      certificate({
        DomainName: 'other.example.org',
        SubjectAlternativeNames: ['other.example.org'],
      }),
    );
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toBe('the certificate covers other.example.org, not api.example.com');
  });

  it('fails a certificate from another region before calling ACM', async () => {
    const { clients, mocks } = mockedClients();
    const arn = CERT_ARN.replace('us-east-1', 'eu-west-1');
    const row = await checkCertificate(clients.acm, httpsInputs({ certificateArn: arn }), NOW);
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('is in eu-west-1');
    expect(mocks.acm.commandCalls(DescribeCertificateCommand)).toHaveLength(0);
  });

  it('fails with the request command when the certificate does not exist', async () => {
    const { clients, mocks } = mockedClients();
    mocks.acm.on(DescribeCertificateCommand).rejects(awsError('ResourceNotFoundException'));
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row?.status).toBe('FAIL');
    expect(row?.fix).toContain('aws acm request-certificate --domain-name api.example.com');
  });

  it('warns about an imported certificate that expires within 30 days', async () => {
    const { clients, mocks } = mockedClients();
    mocks.acm
      .on(DescribeCertificateCommand)
      .resolves(certificate({ Type: 'IMPORTED', NotAfter: new Date('2026-12-15T00:00:00Z') }));
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row?.status).toBe('WARN');
    expect(row?.detail).toContain('expires 2026-12-15');
  });

  it('warns when no domain is set, since the ALB name is not on the certificate', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const inputs = httpsInputs();
    const { domainName: _, ...withoutDomain } = inputs;
    const row = await checkCertificate(clients.acm, withoutDomain, NOW);
    expect(row?.status).toBe('WARN');
    expect(row?.fix).toContain('gateway.domainName');
  });

  it('fails naming acm:DescribeCertificate when access is denied', async () => {
    const { clients, mocks } = mockedClients();
    mocks.acm.on(DescribeCertificateCommand).rejects(awsError('AccessDeniedException'));
    const row = await checkCertificate(clients.acm, httpsInputs(), NOW);
    expect(row?.fix).toContain('grant acm:DescribeCertificate');
  });
});

describe('hosted zone check', () => {
  function zone(name: string, privateZone = false) {
    return {
      HostedZone: {
        Id: `/hostedzone/${ZONE_ID}`,
        Name: name,
        CallerReference: 'stand-in',
        Config: { PrivateZone: privateZone },
      },
    };
  }

  it('passes a public zone whose name is a suffix of the domain', async () => {
    const { clients, mocks } = mockedClients();
    healthyAccount(mocks);
    const row = await checkHostedZone(clients.route53, httpsInputs());
    expect(row).toMatchObject({
      status: 'PASS',
      detail: `zone ${ZONE_ID} is example.com, public, a parent of api.example.com`,
    });
  });

  it('fails a zone that is not a parent of the domain', async () => {
    const { clients, mocks } = mockedClients();
    mocks.route53.on(GetHostedZoneCommand).resolves(zone('ample.com.'));
    const row = await checkHostedZone(
      clients.route53,
      httpsInputs({ domainName: 'api.example.com' }),
    );
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('ample.com, which is not a parent of api.example.com');
  });

  it('fails a private zone, which internet clients cannot resolve', async () => {
    const { clients, mocks } = mockedClients();
    mocks.route53.on(GetHostedZoneCommand).resolves(zone('example.com.', true));
    const row = await checkHostedZone(clients.route53, httpsInputs());
    expect(row?.status).toBe('FAIL');
    expect(row?.detail).toContain('is private');
  });

  it('fails a zone id that does not exist', async () => {
    const { clients, mocks } = mockedClients();
    mocks.route53.on(GetHostedZoneCommand).rejects(awsError('NoSuchHostedZone'));
    const row = await checkHostedZone(clients.route53, httpsInputs());
    expect(row?.status).toBe('FAIL');
    expect(row?.fix).toContain('list-hosted-zones-by-name');
  });

  it('adds no row when the stage names no zone', async () => {
    const { clients } = mockedClients();
    expect(await checkHostedZone(clients.route53, devInputs())).toBeUndefined();
  });
});

describe('https check', () => {
  it('warns when the stage opts into plain HTTP', () => {
    const row = checkHttps(devInputs());
    expect(row?.status).toBe('WARN');
    expect(row?.detail).toContain('clear text');
  });

  it('adds no row when a certificate is set', () => {
    expect(checkHttps(httpsInputs())).toBeUndefined();
  });
});
