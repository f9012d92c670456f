/**
 * The container edge as an HTTP server over the gateway core: each request goes through the
 * node:http adapter (lambda/gateway/node-http.ts) into `Gateway.stream`, and streamed answers
 * are piped out chunk by chunk. The only thing the edge adds is its lifecycle: a graceful drain
 * (`shutdown`) that stops accepting, fails `/healthz` so the load balancer takes the instance
 * out, and lets open streams finish within a grace period.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ShuttingDownError } from '../../../lambda/gateway/errors.ts';
import type { Gateway } from '../../../lambda/gateway/gateway.ts';
import { errorResponse } from '../../../lambda/gateway/http.ts';
import { fromNodeRequest, toNodeResponse } from '../../../lambda/gateway/node-http.ts';

export interface EdgeOptions {
  readonly gateway: Pick<Gateway, 'stream'>;
  /** Request body cap; larger bodies get 413 before admission, uncharged. */
  readonly maxBodyBytes: number;
  /** How long open requests may run on after a shutdown begins. */
  readonly shutdownGraceMs: number;
  /** Called with failures no client can be told of (the answer had already started). */
  readonly onError?: (err: unknown) => void;
}

export interface Edge {
  readonly server: Server;
  listen(port: number, host?: string): Promise<string>;
  /** Requests being answered right now, streams included. */
  inFlight(): number;
  /**
   * Drains: stops accepting connections, answers `/healthz` 503 on the ones still open, closes
   * each connection after its current answer, and after `shutdownGraceMs` cuts what is left
   * (each cut stream is settled as a client disconnect). Resolves when every request is done.
   */
  shutdown(): Promise<void>;
}

export function createEdge(options: EdgeOptions): Edge {
  const { gateway, maxBodyBytes, shutdownGraceMs } = options;
  const onError = options.onError ?? (() => undefined);
  let draining = false;
  const open = new Set<Promise<void>>();

  const server = createServer(
    // The core bounds the wait for the session manager; a socket timeout here would cut a long
    // generation. Time to send a request stays bounded.
    { requestTimeout: 30_000, keepAliveTimeout: 65_000 },
    (incoming, outgoing) => {
      const done = (async () => {
        const cancel = new AbortController();
        outgoing.once('close', () => cancel.abort());
        const { request, complete } = await fromNodeRequest(incoming, maxBodyBytes);
        const response =
          draining && request.path === '/healthz'
            ? errorResponse(new ShuttingDownError())
            : await gateway.stream(request, cancel.signal);
        await toNodeResponse(response, outgoing, { close: draining || !complete });
      })().catch((err: unknown) => {
        onError(err);
        outgoing.destroy();
      });
      open.add(done);
      void done.finally(() => open.delete(done));
    },
  );

  return {
    server,
    async listen(port, host = '0.0.0.0') {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      return `http://${address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${address.port}`;
    },
    inFlight: () => open.size,
    async shutdown() {
      if (draining) return;
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
      cut.unref();
      await closed;
      clearTimeout(cut);
      await Promise.allSettled([...open]);
    },
  };
}
