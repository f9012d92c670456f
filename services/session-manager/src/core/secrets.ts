/**
 * Secrets the service reads at start (the Redis AUTH token, the gateway's shared secret): from an
 * environment variable or from AWS Secrets Manager, where the secret string is the raw value.
 * Both are `SecretProvider`s, so the Redis connection can read the token again when it rotates
 * and tests can hand in a plain function. The AWS SDK is imported only when an ARN is used.
 */

export type SecretProvider = () => Promise<string>;

export function staticSecret(value: string): SecretProvider {
  return async () => value;
}

/** Reads `secretId` (an ARN or name) on every call; callers decide how often to call. */
export function secretsManagerSecret(secretId: string): SecretProvider {
  let client: Promise<{ read(): Promise<string> }> | undefined;
  const load = async () => {
    const { SecretsManagerClient, GetSecretValueCommand } = await import(
      '@aws-sdk/client-secrets-manager'
    );
    // A secret lives in the region its ARN names; no AWS_REGION is needed for it.
    const region = /^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1];
    const sm = new SecretsManagerClient(region ? { region } : {});
    return {
      async read() {
        const out = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
        if (typeof out.SecretString !== 'string' || out.SecretString === '') {
          throw new Error(
            `secret ${secretId} has no SecretString; store the raw value as a string`,
          );
        }
        return out.SecretString;
      },
    };
  };
  return async () => {
    client ??= load();
    return (await client).read();
  };
}
