/**
 * Time to first token under load: `clients` streaming clients at once against one target, each a
 * closed loop (send a `stream: true` chat completion, wait for its first content chunk, read it
 * to `[DONE]`, send the next) until each has done `streamsPerClient`. Latency is from the send to
 * the first SSE event whose `choices[0].delta.content` is not empty (the role chunk before it,
 * `"content":""`, does not count). Clients start spread over `staggerMs`, so with streams that
 * all last the same time they do not arrive in one burst per stream length.
 *
 * Runs in the load generator's process (load-worker.ts), over an undici keep-alive `Pool` with a
 * connection per client.
 */
import type { Pool } from 'undici';
import type { LoadTarget } from './load.ts';
import { percentile, round } from './report.ts';

export interface StreamSpec {
  readonly target: string;
  /** Streams open at once: one per client. */
  readonly clients: number;
  readonly streamsPerClient: number;
  /** Client i starts after i × staggerMs / clients. */
  readonly staggerMs: number;
  /** Per-request deadline for headers and between body chunks; past it counts as an error. */
  readonly timeoutMs: number;
}

export interface StreamResult {
  readonly target: string;
  /** Streams that answered 200, carried a content chunk and ended with `[DONE]`. */
  readonly ok: number;
  readonly errors: number;
  /** `status 401`, `no content chunk`, `no [DONE]`, `UND_ERR_BODY_TIMEOUT`, ... */
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Whole streams (send to `[DONE]`), median: how long each client's loop turn took. */
  readonly streamP50Ms: number;
  /** Streams completed per second over the run (stagger included). */
  readonly streamsPerSecond: number;
}

/** The first content chunk's arrival in `text` (events so far), or whether none came yet. */
function hasContent(text: string): boolean {
  for (const event of text.split('\n\n').slice(0, -1)) {
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      try {
        const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
        const content = chunk.choices?.[0]?.delta?.content;
        if (typeof content === 'string' && content.length > 0) return true;
      } catch {
        // not a chunk: ignore it
      }
    }
  }
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStreams(
  pool: Pool,
  target: LoadTarget,
  spec: StreamSpec,
): Promise<StreamResult> {
  const firsts: number[] = [];
  const wholes: number[] = [];
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };

  const one = async () => {
    const start = performance.now();
    const res = await pool.request({
      method: 'POST',
      path: target.path,
      headers: target.headers,
      body: target.body,
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return fail(`status ${res.statusCode}`);
    }
    let first: number | undefined;
    let seen = '';
    let tail = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const text = chunk.toString('utf8');
      if (first === undefined) {
        seen += text;
        if (hasContent(seen)) {
          first = performance.now() - start;
          seen = '';
        }
      }
      tail = (tail + text).slice(-64);
    }
    if (first === undefined) return fail('no content chunk');
    if (!tail.includes('data: [DONE]')) return fail('no [DONE]');
    firsts.push(first);
    wholes.push(performance.now() - start);
  };

  const client = async (i: number) => {
    await sleep((i * spec.staggerMs) / spec.clients);
    for (let n = 0; n < spec.streamsPerClient; n++) {
      await one().catch((err: { code?: string; name?: string }) =>
        fail(err.code ?? err.name ?? 'error'),
      );
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: spec.clients }, (_, i) => client(i)));
  const seconds = (performance.now() - started) / 1000;
  firsts.sort((a, b) => a - b);
  wholes.sort((a, b) => a - b);
  const ms = (value: number) => round(value, 3);
  return {
    target: target.name,
    ok: firsts.length,
    errors: Object.values(errorKinds).reduce((sum, n) => sum + n, 0),
    errorKinds,
    p50Ms: ms(percentile(firsts, 50)),
    p90Ms: ms(percentile(firsts, 90)),
    p99Ms: ms(percentile(firsts, 99)),
    maxMs: ms(firsts.at(-1) ?? Number.NaN),
    streamP50Ms: ms(percentile(wholes, 50)),
    streamsPerSecond: round(firsts.length / seconds, 1),
  };
}
