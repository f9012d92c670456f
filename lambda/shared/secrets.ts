/**
 * Secrets Manager reads for values that rotate (the Redis AUTH token, the gateway's upstream
 * secret). Each call fetches the current version: callers re-read only when a credential is
 * rejected, so there is no cache to go stale.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

let client: SecretsManagerClient | undefined;

export function secretReader(secretId: string): () => Promise<string> {
  return async () => {
    client ??= new SecretsManagerClient({});
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
    return SecretString;
  };
}
