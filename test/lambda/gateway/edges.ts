/**
 * Both edges over one fixture's gateway core, for tests that must hold on each: the container
 * edge's HTTP server (`Gateway.stream`) and the ALB emulator in front of the Lambda adapter
 * (`Gateway.handle` through the ALB event), each on a free loopback port.
 */
import { fromAlbEvent, toAlbResult } from '#gateway/alb';
import type { Gateway } from '#gateway/gateway';
import { startAlbEmulator } from '../../../local/alb-emulator.ts';
import { createEdge } from '../../../services/gateway-edge/src/edge.ts';

export interface RunningEdge {
  readonly name: 'lambda' | 'container';
  readonly url: string;
}

export async function startEdges(
  gateway: Gateway,
): Promise<{ edges: RunningEdge[]; close(): Promise<void> }> {
  const container = createEdge({ gateway, shutdownGraceMs: 1_000 });
  const containerUrl = await container.listen(0, '127.0.0.1');
  const alb = await startAlbEmulator(async (event) => {
    const { request, multiValue } = fromAlbEvent(event);
    return toAlbResult(await gateway.handle(request), multiValue);
  });
  return {
    edges: [
      { name: 'lambda', url: alb.url },
      { name: 'container', url: containerUrl },
    ],
    close: async () => {
      await container.shutdown();
      await alb.close();
    },
  };
}
