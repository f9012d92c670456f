import type { ALBEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromAlbEvent, toAlbResult } from '#gateway/alb';

const context = {
  elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/axon/1' },
};

describe('ALB event adapter', () => {
  it('reads a multi-value event, keeping both values of a repeated header', () => {
    const event: ALBEvent = {
      requestContext: context,
      httpMethod: 'POST',
      path: '/v1/chat/completions',
      multiValueQueryStringParameters: { a: ['1', '2'], b: ['x%20y'] },
      multiValueHeaders: {
        Authorization: ['Bearer one', 'Bearer two'],
        'X-Forwarded-For': ['203.0.113.9'],
      },
      body: Buffer.from('{"model":"m"}').toString('base64'),
      isBase64Encoded: true,
    };
    const { request, multiValue } = fromAlbEvent(event);
    expect(multiValue).toBe(true);
    expect(request.headers.get('authorization')).toEqual(['Bearer one', 'Bearer two']);
    expect(request.query).toBe('a=1&a=2&b=x%20y');
    expect(request.body.toString()).toBe('{"model":"m"}');
  });

  it('reads a single-value event with a plain text body', () => {
    const event: ALBEvent = {
      requestContext: context,
      httpMethod: 'get',
      path: '/v1/models',
      queryStringParameters: { limit: '10' },
      headers: { authorization: 'Bearer k' },
      body: 'hello',
      isBase64Encoded: false,
    };
    const { request, multiValue } = fromAlbEvent(event);
    expect(multiValue).toBe(false);
    expect(request.method).toBe('GET');
    expect(request.query).toBe('limit=10');
    expect(request.headers.get('authorization')).toEqual(['Bearer k']);
    expect(request.body.toString()).toBe('hello');
  });

  it('answers in the shape the event came in', () => {
    const response = {
      status: 429,
      headers: {
        'retry-after': '2',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'application/json',
      },
      body: Buffer.from('{}'),
    };
    expect(toAlbResult(response, true)).toEqual({
      statusCode: 429,
      statusDescription: '429 Too Many Requests',
      multiValueHeaders: {
        'retry-after': ['2'],
        'set-cookie': ['a=1', 'b=2'],
        'content-type': ['application/json'],
      },
      body: '{}',
      isBase64Encoded: false,
    });
    expect(toAlbResult(response, false).headers).toEqual({
      'retry-after': '2',
      'set-cookie': 'a=1, b=2',
      'content-type': 'application/json',
    });
  });

  it('base64-encodes a binary body and keeps event streams as text', () => {
    const binary = toAlbResult(
      {
        status: 200,
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from([0, 255, 1]),
      },
      true,
    );
    expect(binary).toMatchObject({ isBase64Encoded: true, body: 'AP8B' });
    const sse = toAlbResult(
      {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: Buffer.from('data: [DONE]\n\n'),
      },
      true,
    );
    expect(sse).toMatchObject({ isBase64Encoded: false, body: 'data: [DONE]\n\n' });
  });
});
