/**
 * Lambda entry points for teams that put Amazon API Gateway in front instead of the ALB:
 * `httpApiHandler` (HTTP API, payload 2.0, simple responses) and `restApiHandler` (REST API
 * REQUEST authorizer). The ALB path does not use this file: the gateway composes `Authorizer`
 * (authorizer.ts, built with setup.ts) in-process.
 *
 * Env: `AXON_KEYS_TABLE`, `AXON_CONFIG` (the config JSON, or a file path locally), optional
 * `AXON_DYNAMODB_ENDPOINT`, and the Redis variables of `#token-bucket/setup` for the
 * failed-auth limiter (without them failures are counted per instance).
 */
import type {
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { configFromEnv } from '#shared/config';
import { createLogger } from '#shared/logger';
import { limiterFromEnv } from '#token-bucket/setup';
import { authorizeHttpApi, authorizeRestApi } from './api-gateway.ts';
import { authorizerEnv, authorizerFromEnv } from './setup.ts';

const log = createLogger('axon-authorizer');
// Made once per instance during init; a missing variable fails the cold start, not a request.
const config = configFromEnv();
authorizerEnv();
const { limiter } = await limiterFromEnv(config, log);
const authorizer = authorizerFromEnv({ config, failures: limiter, log });

export function httpApiHandler(event: APIGatewayRequestAuthorizerEventV2) {
  return authorizeHttpApi(authorizer, event);
}

export function restApiHandler(event: APIGatewayRequestAuthorizerEvent) {
  return authorizeRestApi(authorizer, event);
}
