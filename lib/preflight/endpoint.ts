/**
 * The public endpoint's TLS: the certificate the ALB listener uses, the hosted zone the alias
 * record would go in, and a warning when the stage opts into plain HTTP.
 */
import { type ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { GetHostedZoneCommand, type Route53Client } from '@aws-sdk/client-route-53';
import type { PreflightInputs } from './inputs.ts';
import { errorRow, fail, pass, type Row, warn } from './report.ts';

/** Imported certificates do not renew themselves; warn this long before they expire. */
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/** A certificate name covers a host exactly, or by a wildcard for exactly one leftmost label. */
export function covers(certificateName: string, host: string): boolean {
  const name = certificateName.toLowerCase();
  const h = host.toLowerCase();
  if (name === h) return true;
  if (!name.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === name.slice(2);
}

/** ACM DescribeCertificate: the certificate exists in the stage's region, is ISSUED, covers the domain. */
export async function checkCertificate(
  acm: Pick<ACMClient, 'send'>,
  inputs: PreflightInputs,
  now: Date,
): Promise<Row | undefined> {
  const arn = inputs.certificateArn;
  if (arn === undefined) return undefined;
  const check = 'certificate';
  const arnRegion = arn.split(':')[3];
  if (arnRegion !== inputs.region) {
    return fail(
      check,
      `the certificate is in ${arnRegion}, but an ALB in ${inputs.region} can only use one from its own region`,
      `request or import the certificate in ${inputs.region} and set gateway.certificateArn to it`,
    );
  }
  let certificate: Awaited<ReturnType<typeof describe>>;
  try {
    certificate = await describe(acm, arn);
  } catch (err) {
    if (err instanceof Error && err.name === 'ResourceNotFoundException') {
      return fail(
        check,
        `no certificate ${arn} in this account and region`,
        `request one (aws acm request-certificate --domain-name ${inputs.domainName ?? '<domain>'} --validation-method DNS --region ${inputs.region}) and set gateway.certificateArn`,
      );
    }
    return errorRow(check, 'acm:DescribeCertificate', err);
  }
  const status = certificate?.Status ?? 'UNKNOWN';
  if (status !== 'ISSUED') {
    const fix =
      status === 'PENDING_VALIDATION'
        ? 'create the DNS validation CNAME records ACM lists for it (aws acm describe-certificate), then wait for ISSUED'
        : 'request a new certificate and set gateway.certificateArn to it';
    return fail(check, `the certificate is ${status}, not ISSUED`, fix);
  }
  const names = [
    ...new Set([certificate?.DomainName, ...(certificate?.SubjectAlternativeNames ?? [])]),
  ].filter((n): n is string => n !== undefined);
  const domain = inputs.domainName;
  if (domain !== undefined && !names.some((n) => covers(n, domain))) {
    return fail(
      check,
      `the certificate covers ${names.join(', ') || 'no names'}, not ${domain}`,
      `use a certificate for ${domain} (or a wildcard of its parent), or correct gateway.domainName`,
    );
  }
  const notAfter = certificate?.NotAfter;
  if (
    certificate?.Type === 'IMPORTED' &&
    notAfter !== undefined &&
    notAfter.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY_MS
  ) {
    return warn(
      check,
      `the imported certificate expires ${notAfter.toISOString().slice(0, 10)} and ACM does not renew imported certificates`,
      're-import a renewed certificate (aws acm import-certificate --certificate-arn <arn> ...)',
    );
  }
  if (domain === undefined) {
    return warn(
      check,
      `ISSUED for ${names.join(', ')}, but the stage sets no gateway.domainName, so clients reach the ALB by its own DNS name, which the certificate does not cover`,
      'set gateway.domainName (and hostedZoneId) to a name the certificate covers',
    );
  }
  return pass(check, `ISSUED, covers ${domain} (${names.join(', ')})`);
}

async function describe(acm: Pick<ACMClient, 'send'>, arn: string) {
  const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
  return Certificate;
}

/** Route 53 GetHostedZone: the zone exists, is public, and is a parent of (or equal to) the domain. */
export async function checkHostedZone(
  route53: Pick<Route53Client, 'send'>,
  inputs: PreflightInputs,
): Promise<Row | undefined> {
  const id = inputs.hostedZoneId;
  if (id === undefined) return undefined;
  const check = 'hosted zone';
  let name: string | undefined;
  let privateZone: boolean | undefined;
  try {
    const { HostedZone } = await route53.send(new GetHostedZoneCommand({ Id: id }));
    name = HostedZone?.Name;
    privateZone = HostedZone?.Config?.PrivateZone;
  } catch (err) {
    if (err instanceof Error && err.name === 'NoSuchHostedZone') {
      return fail(
        check,
        `no hosted zone ${id} in this account`,
        'set gateway.hostedZoneId to the id of your public zone (aws route53 list-hosted-zones-by-name)',
      );
    }
    return errorRow(check, 'route53:GetHostedZone', err);
  }
  // Route 53 answers fully qualified names: "example.com.".
  const zone = (name ?? '').replace(/\.$/, '').toLowerCase();
  const domain = inputs.domainName?.toLowerCase();
  if (domain === undefined || !(domain === zone || domain.endsWith(`.${zone}`))) {
    return fail(
      check,
      `zone ${id} is ${zone || 'unnamed'}, which is not a parent of ${domain ?? 'any gateway.domainName'}`,
      'use the zone that holds gateway.domainName, or correct the domain',
    );
  }
  if (privateZone === true) {
    return fail(
      check,
      `zone ${id} (${zone}) is private: internet clients cannot resolve ${domain}`,
      'use the public hosted zone of the domain',
    );
  }
  return pass(check, `zone ${id} is ${zone}, public, a parent of ${domain}`);
}

/** Config only: plain HTTP is allowed, but API keys would cross the internet in clear text. */
export function checkHttps(inputs: PreflightInputs): Row | undefined {
  if (inputs.certificateArn !== undefined || !inputs.allowPlainHttp) return undefined;
  return warn(
    'https',
    'the stage serves plain HTTP (gateway.allowPlainHttp): API keys and prompts cross the internet in clear text',
    'set gateway.certificateArn (and domainName, hostedZoneId) and drop allowPlainHttp before real clients use it',
  );
}
