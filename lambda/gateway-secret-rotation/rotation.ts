/**
 * Secrets Manager rotation of the gateway-to-session-manager secret, in the four steps Secrets
 * Manager calls:
 *
 * 1. createSecret: generate a new value as the AWSPENDING version.
 * 2. setSecret:    nothing to do. No service holds a copy to update: the gateway and the session
 *                  manager read the value from Secrets Manager itself.
 * 3. testSecret:   check that the pending value is there and long enough for the session manager
 *                  (which refuses to start on a value under 16 characters). It cannot be tried
 *                  against the session manager: the rotation Lambda has no network path to it.
 * 4. finishSecret: move AWSCURRENT to the new version; Secrets Manager labels the old one
 *                  AWSPREVIOUS.
 *
 * No downtime, because the readers meet halfway: the session manager accepts AWSCURRENT and
 * AWSPREVIOUS (re-reading both when a presented value matches neither), and the gateway re-reads
 * AWSCURRENT and retries once when the session manager answers 401. No value is ever logged.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  makeCurrent,
  RotationError,
  type RotationEvent,
  runRotationStep,
  type SecretRotationDeps,
} from '#shared/secret-rotation';

export interface RotationDeps extends SecretRotationDeps {
  /** Length of generated values. @default 64 */
  readonly secretLength?: number;
}

/** The session manager refuses a shorter secret (services/session-manager gateway-secret.ts). */
export const MIN_SECRET_LENGTH = 16;

/** Runs one rotation step; safe to call again for a step that already ran. */
export async function rotate(event: RotationEvent, deps: RotationDeps): Promise<void> {
  await runRotationStep(event, deps, {
    // Letters and digits only: the value travels as an HTTP header and must not need escaping.
    create: { length: deps.secretLength ?? 64, minLength: MIN_SECRET_LENGTH },
    // Nothing holds a copy of the value to update: both readers fetch it from Secrets Manager.
    setSecret: async () => {},
    testSecret: ({ secretId, token }) => testSecret(secretId, token, deps),
    finishSecret: ({ secretId, token, versions }) => makeCurrent(secretId, token, versions, deps),
  });
}

export async function testSecret(
  secretId: string,
  token: string,
  deps: RotationDeps,
): Promise<void> {
  const out = await deps.secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }),
  );
  const value = out.SecretString ?? '';
  if (value.length < MIN_SECRET_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new RotationError(
      `pending version ${token} of ${secretId} is not a usable header value of at least ${MIN_SECRET_LENGTH} printable characters`,
    );
  }
}
