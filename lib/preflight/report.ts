/**
 * The preflight's output: one row per check, printed as a table (or JSON), and the mapping from
 * AWS SDK errors to rows, so a missing permission or missing credentials reads as a FAIL that
 * names what to grant instead of a stack trace.
 */

export type Status = 'PASS' | 'WARN' | 'FAIL';

export interface Row {
  readonly check: string;
  readonly status: Status;
  readonly detail: string;
  /** What the operator does about a WARN or FAIL; absent on PASS. */
  readonly fix?: string;
}

export function pass(check: string, detail: string): Row {
  return { check, status: 'PASS', detail };
}

export function warn(check: string, detail: string, fix: string): Row {
  return { check, status: 'WARN', detail, fix };
}

export function fail(check: string, detail: string, fix: string): Row {
  return { check, status: 'FAIL', detail, fix };
}

/** Error names the SDK clients use when the caller lacks a permission (EC2 has its own). */
const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
]);
/** Credentials were found but AWS does not accept them. */
const BAD_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AuthFailure',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);

/**
 * Turns an error from one AWS call into a FAIL row. `action` is the IAM action the call needs
 * (e.g. `ssm:GetParameter`), so the fix names exactly what to grant. Only the error's name and
 * the first line of its message are shown: SDK messages carry ARNs and request ids, never keys.
 */
export function errorRow(check: string, action: string, err: unknown): Row {
  const name = err instanceof Error ? err.name : '';
  const code = (err as { code?: unknown } | null)?.code;
  // The default provider chain found nothing (no env keys, profile, SSO session or role).
  if (name === 'CredentialsProviderError') {
    return fail(
      check,
      `no AWS credentials found, so ${action} could not be called`,
      'set AWS_PROFILE (aws sso login --profile <p>) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then rerun',
    );
  }
  if (ACCESS_DENIED.has(name)) {
    return fail(
      check,
      `access denied: the credentials may not call ${action}`,
      `grant ${action} to the operator's role (every call the preflight makes only reads)`,
    );
  }
  if (BAD_CREDENTIALS.has(name)) {
    return fail(
      check,
      `AWS rejected the credentials (${name}) calling ${action}`,
      'refresh the credentials (aws sso login, or new access keys) and rerun',
    );
  }
  if (name === 'OptInRequired') {
    return fail(
      check,
      `the region is not enabled for this account (${action} answered OptInRequired)`,
      'enable the region under Account > AWS Regions, or pick an enabled region for the stage',
    );
  }
  if (name === 'TimeoutError' || (typeof code === 'string' && NETWORK_CODES.has(code))) {
    return fail(
      check,
      `cannot reach AWS to call ${action} (${typeof code === 'string' ? code : name})`,
      'check the network, proxy (HTTPS_PROXY) and region, then rerun',
    );
  }
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  return fail(
    check,
    `${action} failed: ${name || 'error'}: ${message}`,
    'rerun; if it persists, call the same API with the AWS CLI to see the full error',
  );
}

const HEADERS = ['CHECK', 'STATUS', 'DETAIL'] as const;

/**
 * An aligned plain-text table, then a one-line summary. The fix of a WARN or FAIL row sits on its
 * own line under the detail ("fix: ..."): as a fourth column it would push every line past 250
 * characters, since fixes are whole commands.
 */
export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.check, r.status, r.detail]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const indent = ' '.repeat((widths[0] ?? 0) + (widths[1] ?? 0) + 4);
  const line = (c: readonly string[]) =>
    c
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const body = rows.flatMap((r, i) => [
    line(cells[i] ?? []),
    ...(r.fix === undefined ? [] : [`${indent}fix: ${r.fix}`]),
  ]);
  return [line(HEADERS), ...body, '', summary(rows)].join('\n');
}

/** "1 FAIL, 1 WARN, 7 PASS" plus what to do next. */
export function summary(rows: readonly Row[]): string {
  const count = (s: Status) => rows.filter((r) => r.status === s).length;
  const counts = `${count('FAIL')} FAIL, ${count('WARN')} WARN, ${count('PASS')} PASS`;
  return count('FAIL') > 0
    ? `${counts}: fix every FAIL row before npm run deploy`
    : `${counts}: the account is ready for npm run deploy`;
}
