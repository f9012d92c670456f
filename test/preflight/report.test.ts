/** How rows print, and how SDK errors become FAIL rows that name the permission to grant. */
import { describe, expect, it } from 'vitest';
import { errorRow, fail, formatTable, pass, warn } from '../../lib/preflight/report.ts';
import { awsError } from './support.ts';

describe('error rows', () => {
  it.each([
    ['AccessDenied', 'access denied: the credentials may not call x:Y'],
    ['AccessDeniedException', 'access denied: the credentials may not call x:Y'],
    ['UnauthorizedOperation', 'access denied: the credentials may not call x:Y'],
    ['CredentialsProviderError', 'no AWS credentials found, so x:Y could not be called'],
    ['InvalidClientTokenId', 'AWS rejected the credentials (InvalidClientTokenId) calling x:Y'],
  ])('turns %s into a FAIL that names the action', (name, detail) => {
    const row = errorRow('c', 'x:Y', awsError(name));
    expect(row).toMatchObject({ check: 'c', status: 'FAIL', detail });
    expect(row.fix).toBeTruthy();
  });

  it('reports an unreachable endpoint by its network code', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    expect(errorRow('c', 'x:Y', err).detail).toBe('cannot reach AWS to call x:Y (ECONNREFUSED)');
  });

  it('keeps only the first line of an unknown error, never a stack', () => {
    const err = awsError('ThrottlingException', 'Rate exceeded\n    at somewhere (file.js:1:1)');
    const row = errorRow('c', 'x:Y', err);
    expect(row.detail).toBe('x:Y failed: ThrottlingException: Rate exceeded');
  });
});

describe('table', () => {
  it('aligns the columns, puts each fix under its detail, and ends with the counts', () => {
    const text = formatTable([
      pass('account', 'account 111122223333'),
      warn('https', 'plain HTTP', 'set a certificate'),
      fail('GPU quota', '0 vCPUs', 'request 8'),
    ]);
    expect(text.split('\n')).toEqual([
      'CHECK      STATUS  DETAIL',
      'account    PASS    account 111122223333',
      'https      WARN    plain HTTP',
      '                   fix: set a certificate',
      'GPU quota  FAIL    0 vCPUs',
      '                   fix: request 8',
      '',
      '1 FAIL, 1 WARN, 1 PASS: fix every FAIL row before npm run deploy',
    ]);
  });
});
