/**
 * ALB Lambda target events in and out. The target group may have multi-value headers on (the
 * event carries `multiValueHeaders` and the answer must too) or off (single values); both work.
 * Multi-value is what the CDK app configures: without it the ALB passes only the last of two
 * `Authorization` headers, and a duplicated credential could not be refused.
 */
import { STATUS_CODES } from 'node:http';
import type { ALBEvent, ALBResult } from 'aws-lambda';
import type { GatewayRequest, GatewayResponse, Headers } from './http.ts';

export interface AlbRequest {
  readonly request: GatewayRequest;
  /** Answer in the same shape the event came in. */
  readonly multiValue: boolean;
}

function headersOf(event: ALBEvent): Headers {
  const headers: Headers = new Map();
  const add = (name: string, values: readonly string[]) => {
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), ...values]);
  };
  if (event.multiValueHeaders) {
    for (const [name, values] of Object.entries(event.multiValueHeaders)) add(name, values ?? []);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) {
      if (value !== undefined) add(name, [value]);
    }
  }
  return headers;
}

/** The ALB hands query parameters over still percent-encoded; they are passed on as they are. */
function queryOf(event: ALBEvent): string {
  const pairs: string[] = [];
  if (event.multiValueQueryStringParameters) {
    for (const [name, values] of Object.entries(event.multiValueQueryStringParameters)) {
      for (const value of values ?? []) pairs.push(`${name}=${value}`);
    }
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
      pairs.push(`${name}=${value ?? ''}`);
    }
  }
  return pairs.join('&');
}

export function fromAlbEvent(event: ALBEvent): AlbRequest {
  const body = event.body
    ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  return {
    request: {
      method: (event.httpMethod || 'GET').toUpperCase(),
      path: event.path || '/',
      query: queryOf(event),
      headers: headersOf(event),
      body,
    },
    multiValue: event.multiValueHeaders !== undefined,
  };
}

const TEXT =
  /^(text\/|application\/(json|[\w.+-]+\+json|x-ndjson|javascript|xml)|application\/x-www-form-urlencoded)/i;

/** Text bodies travel as text; anything else base64-encoded, as the ALB requires. */
export function isTextContentType(contentType: string | undefined): boolean {
  return contentType === undefined || TEXT.test(contentType);
}

export function toAlbResult(response: GatewayResponse, multiValue: boolean): ALBResult {
  const contentType = response.headers['content-type'];
  const text = isTextContentType(Array.isArray(contentType) ? contentType[0] : contentType);
  const result: ALBResult = {
    statusCode: response.status,
    statusDescription: `${response.status} ${STATUS_CODES[response.status] ?? 'Unknown'}`,
    body: response.body.toString(text ? 'utf8' : 'base64'),
    isBase64Encoded: !text,
  };
  if (multiValue) {
    result.multiValueHeaders = Object.fromEntries(
      Object.entries(response.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value : [value],
      ]),
    );
  } else {
    result.headers = Object.fromEntries(
      Object.entries(response.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(', ') : value,
      ]),
    );
  }
  return result;
}
