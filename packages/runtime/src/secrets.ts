/**
 * Secrets that rotate (the Redis AUTH token, the gateway-to-session-manager secret), read from
 * AWS Secrets Manager where the secret string is the raw value, or given as a plain value. Both
 * are `SecretProvider`s, so a Redis connection can read its token again when Redis rejects it,
 * and tests hand in a plain function standing in for Secrets Manager.
 *
 * Each call fetches the current version: callers read again only when a credential is rejected,
 * so there is no cache to go stale. The SDK is imported on the first read, so a process that
 * never reads a secret (the local stack, most tests) never loads it.
 */

export type SecretProvider = () => Promise<string>;

/** A value that never rotates (local runs, tests). */
export function staticSecret(value: string): SecretProvider {
  return async () => value;
}

interface Reader {
  read(secretId: string, versionStage: string): Promise<string>;
}

/** One SDK client per region for the whole process: each client keeps its own connections. */
const readers = new Map<string, Promise<Reader>>();

async function readerFor(region: string | undefined): Promise<Reader> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import(
    '@aws-sdk/client-secrets-manager'
  );
  const client = new SecretsManagerClient(region ? { region } : {});
  return {
    async read(secretId, versionStage) {
      const out = await client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: versionStage }),
      );
      if (typeof out.SecretString !== 'string' || out.SecretString === '') {
        throw new Error(`secret ${secretId} has no SecretString; store the raw value as a string`);
      }
      return out.SecretString;
    },
  };
}

/**
 * Reads `secretId` (an ARN or a name) on every call; callers decide how often to call.
 * `versionStage` picks the version: `AWSPREVIOUS` lets a reader accept the value a rotation just
 * replaced (it does not exist before the first rotation, and the read then rejects).
 */
export function secretsManagerSecret(
  secretId: string,
  versionStage = 'AWSCURRENT',
): SecretProvider {
  // A secret lives in the region its ARN names, so no AWS_REGION is needed to read it.
  const region = /^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1];
  return async () => {
    const key = region ?? '';
    let reader = readers.get(key);
    if (!reader) {
      reader = readerFor(region);
      // A failed SDK load is not kept: the next read tries again.
      reader.catch(() => readers.delete(key));
      readers.set(key, reader);
    }
    return (await reader).read(secretId, versionStage);
  };
}
