/**
 * The ALB target: one function composing the authorizer, the token bucket, forwarding and
 * settlement in-process (docs/architecture.md#request-path: why not two chained). Everything is
 * built once per instance during init; a handler call only translates the event.
 *
 * Known limit: an ALB Lambda target cannot stream and caps bodies at 1 MB, so `stream: true`
 * answers arrive whole, as one buffered Server-Sent Events body.
 */
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { fromAlbEvent, toAlbResult } from './alb.ts';
import { gatewayFromEnv } from './setup.ts';

const { gateway, metrics } = await gatewayFromEnv();

export async function handler(event: ALBEvent): Promise<ALBResult> {
  const { request, multiValue } = fromAlbEvent(event);
  try {
    return toAlbResult(await gateway.handle(request), multiValue);
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
