/**
 * Adapters that let the same `Authorizer` front Amazon API Gateway. API Gateway, not the
 * authorizer, writes the response to a rejected caller, so docs/api.md's exact bodies cannot be
 * produced here; docs/auth.md shows the Gateway Responses that map these outcomes onto them.
 * - HTTP API (payload 2.0, simple responses): `{ isAuthorized }`; API Gateway answers 403 on
 *   false, and 401 itself when the Authorization identity source is missing.
 * - REST API (REQUEST authorizer): throwing `Unauthorized` is API Gateway's documented way to
 *   answer 401; a Deny policy answers 403 (used for too many failures, with the code in the
 *   context); any other error answers 500 (the key store is down).
 */
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import type { Authorizer, Principal } from './authorizer.ts';
import { AuthenticationError, TooManyAuthFailuresError } from './errors.ts';

export interface SimpleContext {
  readonly keyId: string;
  readonly plan: string;
  /** The models the key may call, comma-separated; absent means every model. */
  readonly models?: string;
}

export type SimpleResult =
  | APIGatewaySimpleAuthorizerWithContextResult<SimpleContext>
  | { readonly isAuthorized: false };

/** All values of a header whatever its case (REST events keep the client's spelling). */
export function headerValues(
  name: string,
  headers: Readonly<Record<string, string | undefined>> | null | undefined,
  multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null,
): string[] | undefined {
  const wanted = name.toLowerCase();
  for (const [key, values] of Object.entries(multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted && values) return [...values];
  }
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return [value];
  }
  return undefined;
}

/** The key's models for the context, comma-separated as `x-axon-models`; none: every model. */
const models = (principal: Principal) =>
  principal.models ? { models: principal.models.join(',') } : {};

/** HTTP API, payload format 2.0 (which joins repeated headers with commas). */
export async function authorizeHttpApi(
  authorizer: Authorizer,
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<SimpleResult> {
  try {
    const principal = await authorizer.authenticate({
      authorization: headerValues('authorization', event.headers),
      sourceAddress: event.requestContext?.http?.sourceIp,
    });
    // An admin key never calls a model, and these APIs front the model routes only.
    if (principal.kind === 'admin') return { isAuthorized: false };
    return {
      isAuthorized: true,
      context: { keyId: principal.keyId, plan: principal.plan, ...models(principal) },
    };
  } catch (err) {
    if (err instanceof AuthenticationError || err instanceof TooManyAuthFailuresError) {
      return { isAuthorized: false };
    }
    throw err;
  }
}

/** REST API REQUEST authorizer: an IAM policy for the called method. */
export async function authorizeRestApi(
  authorizer: Authorizer,
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> {
  try {
    const principal = await authorizer.authenticate({
      authorization: headerValues('authorization', event.headers, event.multiValueHeaders),
      sourceAddress: event.requestContext?.identity?.sourceIp,
    });
    if (principal.kind === 'admin') {
      // A Deny (403): the key is valid, but an admin key never calls a model.
      return {
        principalId: principal.keyId,
        policyDocument: policy('Deny', event.methodArn),
        context: { code: 'insufficient_permissions' },
      };
    }
    return {
      principalId: principal.keyId,
      policyDocument: policy('Allow', event.methodArn),
      context: {
        keyId: principal.keyId,
        plan: principal.plan,
        owner: principal.owner,
        ...models(principal),
      },
    };
  } catch (err) {
    if (err instanceof AuthenticationError) throw new Error('Unauthorized');
    if (err instanceof TooManyAuthFailuresError) {
      return {
        principalId: 'anonymous',
        policyDocument: policy('Deny', event.methodArn),
        context: { code: err.code, retryAfter: err.headers['retry-after'] ?? '1' },
      };
    }
    throw err;
  }
}

function policy(
  effect: 'Allow' | 'Deny',
  methodArn: string,
): APIGatewayAuthorizerResult['policyDocument'] {
  return {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
  };
}
