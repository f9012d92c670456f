/**
 * DynamoDB on loopback: dynalite, a DynamoDB implementation on LevelDB, served in this process
 * on a free port. The local stack keeps it on disk (so keys survive a restart); tests keep it
 * in memory. Either way clients talk real DynamoDB HTTP to it.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;
// dynalite is CommonJS without types; this is its whole surface as used here.
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface Dynalite {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface DynaliteOptions {
  /** LevelDB folder. @default - in memory */
  readonly path?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
}

export async function startDynalite(options: DynaliteOptions = {}): Promise<Dynalite> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path && { path: options.path }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // dynalite closes its database when the server closes; a request still being handled then
  // (a write nobody awaits, such as the authorizer's lastUsedAt) would throw from inside
  // dynalite. So stop lets requests in flight finish first, for a bounded time.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  server.on('request', (_request, response) => {
    inFlight++;
    response.once('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, 2_000).unref();
        });
      }
      // Drop the SDK's keep-alive sockets, or close would wait for them to idle out.
      server.closeAllConnections();
      await closed;
    },
  };
}
