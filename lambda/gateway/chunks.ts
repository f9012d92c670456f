/**
 * A streamed answer relayed chunk by chunk, pushed from the session manager's socket to the
 * client's with no iterator between them: each chunk that arrives is handed on in the same event
 * (`ChunkSource` → the gateway core → `ChunkSink`), and the source is paused while the sink is
 * full. Why push and not `for await`: the pull version wrapped the socket's async iterator in
 * three async generators (upstream idle deadline, usage and settlement, access log), a promise
 * and a few microtasks per layer per chunk, about a tenth of the container edge's CPU per stream
 * (bench:gateway profile, issue 21).
 */

/** What a streamed body is written to: the client's `ServerResponse` fits. */
export interface ChunkSink {
  /** Writes one chunk; false when the sink is full and the next write should wait for `drain`. */
  write(chunk: Buffer): boolean;
  /** True once the sink is gone (the client left): nothing more can be written. */
  readonly destroyed: boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/** A body whose chunks are still arriving. */
export interface ChunkStream {
  /**
   * Writes every chunk to `sink` as it arrives, holding the source back while `sink` is full;
   * resolves once the body has ended or been cut and everything owed for it (settlement, the
   * access log) is done. Never rejects; call it exactly once.
   */
  pipeTo(sink: ChunkSink): Promise<void>;
}

/** What a `ChunkSource` calls: `chunk` for each piece in order, then exactly one of the others. */
export interface ChunkHandlers {
  chunk(chunk: Buffer): void;
  end(): void;
  fail(err: unknown): void;
}

/** The session manager's side of a stream: nothing flows until `start`. */
export interface ChunkSource {
  start(handlers: ChunkHandlers): void;
  pause(): void;
  resume(): void;
}

/** Resolves when `sink` can take more, or has closed. */
export function drained(sink: ChunkSink): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.once('drain', done);
    sink.once('close', done);
  });
}
