/**
 * Secrets Manager rotation function for the gateway-to-session-manager secret. Thin: the client
 * and logger are created once per container; the steps live in rotation.ts.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createLogger } from '#shared/logger';
import type { RotationEvent } from '#shared/secret-rotation';
import { rotate } from './rotation.ts';

const log = createLogger('gateway-secret-rotation');
const secrets = new SecretsManagerClient({});

export async function handler(event: RotationEvent): Promise<void> {
  await rotate(event, { secrets, log });
}
