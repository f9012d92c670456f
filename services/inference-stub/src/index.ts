/**
 * DEV/TEST STAND-IN for NVIDIA Triton. It speaks the parts of Triton's HTTP protocol the session
 * manager uses (health, repository index, the generate extension with generate_stream) and
 * answers with a deterministic echo (see echo.ts), never a model. Tests and the local stack use
 * it because Triton needs GPUs; faults (unavailable, slow, reset, errors before or during a
 * stream, stalls) can be switched at runtime with `setFault`.
 */
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyReply } from 'fastify';
import { echoPieces } from './echo.ts';

export const STAND_IN_NOTICE =
  'inference-stub: DEV/TEST STAND-IN for Triton, not a model; replies are deterministic echoes';

export const DEFAULT_STUB_MODELS = ['stub-echo-chatml', 'stub-echo-llama3'] as const;

/** Faults to inject; `setFault` replaces the whole set, so `setFault({})` clears them. */
export interface StubFaults {
  /** Health says not ready and model routes answer 503 `{"error"}` (Triton up, models not). */
  unavailable?: boolean;
  /** Destroy the socket of every generate request without answering (crash, reset). */
  resetConnections?: boolean;
  /** Extra delay before any generate response starts, in ms (a slow GPU). */
  latencyMs?: number;
  /** generate answers 500 `{"error"}`; generate_stream likewise, before any event. */
  generateError?: boolean;
  /** generate_stream sends this many text events, then an `{"error"}` event, then ends. */
  errorAfterEvents?: number;
  /** generate_stream sends this many text events, then goes silent with the socket open. */
  stallAfterEvents?: number;
}

export interface InferenceStubOptions {
  /** @default 0 - a free port */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Delay before every generate response, in ms. @default 0 */
  latencyMs?: number;
  /** Delay between generate_stream events, in ms. @default 0 */
  tokenDelayMs?: number;
  /** Model names in the repository index. @default DEFAULT_STUB_MODELS */
  models?: readonly string[];
  /** Where the start-up notice and each cancelled stream are reported. @default console.warn */
  log?: (line: string) => void;
}

export interface StubStats {
  generate: number;
  generateStream: number;
  /** generate_stream responses still open right now. */
  openStreams: number;
  /** generate_stream responses the caller closed before their last event (cancelled). */
  cancelledStreams: number;
  index: number;
  ready: number;
}

export interface InferenceStub {
  /** Base URL, e.g. `http://127.0.0.1:40123`, as `TRITON_URL` expects. */
  readonly url: string;
  readonly port: number;
  setFault(faults: StubFaults): void;
  /** Requests received per route since start, to check retry behaviour. */
  stats(): StubStats;
  /** The last generate or generate_stream request, to check what the caller sent. */
  lastGenerate(): { model: string; body: GenerateBody } | undefined;
  close(): Promise<void>;
}

export interface GenerateBody {
  text_input?: unknown;
  parameters?: { max_tokens?: unknown };
}

const DEFAULT_MAX_TOKENS = 64;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function maxTokensOf(body: GenerateBody): number {
  const value = body.parameters?.max_tokens;
  return typeof value === 'number' && Number.isInteger(value) && value > 0
    ? value
    : DEFAULT_MAX_TOKENS;
}

function sseEvent(raw: ServerResponse, payload: unknown): void {
  raw.write(`data: ${JSON.stringify(payload)}\n\n`);
}

export async function startInferenceStub(
  options: InferenceStubOptions = {},
): Promise<InferenceStub> {
  const models = new Set(options.models ?? DEFAULT_STUB_MODELS);
  const tokenDelayMs = options.tokenDelayMs ?? 0;
  let faults: StubFaults = {};
  const counts: StubStats = {
    generate: 0,
    generateStream: 0,
    openStreams: 0,
    cancelledStreams: 0,
    index: 0,
    ready: 0,
  };
  const log = options.log ?? console.warn;
  let last: { model: string; body: GenerateBody } | undefined;

  // forceCloseConnections: close() must not wait for streams a fault left stalled.
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 8 * 1024 * 1024 });

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send({ error: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url}` }),
  );

  app.get('/v2/health/live', async (_request, reply) => reply.code(200).send());
  app.get('/v2/health/ready', async (_request, reply) => {
    counts.ready++;
    return reply.code(faults.unavailable ? 503 : 200).send();
  });
  app.post('/v2/repository/index', async () => {
    counts.index++;
    const state = faults.unavailable ? 'UNAVAILABLE' : 'READY';
    return [...models].map((name) => ({ name, version: '1', state, reason: '' }));
  });
  app.get<{ Params: { model: string } }>('/v2/models/:model/ready', async (request, reply) =>
    reply.code(models.has(request.params.model) && !faults.unavailable ? 200 : 400).send(),
  );

  /** Shared prelude of both generate routes: the reply to send instead, if any. */
  async function refuse(
    model: string,
    body: GenerateBody,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    last = { model, body };
    if (faults.resetConnections) {
      reply.hijack();
      reply.raw.socket?.destroy();
      return reply;
    }
    const latency = (options.latencyMs ?? 0) + (faults.latencyMs ?? 0);
    if (latency > 0) await sleep(latency);
    if (!models.has(model)) {
      return reply.code(404).send({ error: `Request for unknown model: '${model}' is not found` });
    }
    if (faults.unavailable) {
      return reply.code(503).send({ error: `model '${model}' is not ready` });
    }
    if (typeof body?.text_input !== 'string') {
      return reply.code(400).send({ error: 'text_input must be a string' });
    }
    if (faults.generateError) {
      return reply.code(500).send({ error: 'stub: injected inference failure' });
    }
    return undefined;
  }

  const generate = async (
    request: { params: { model: string }; body: GenerateBody },
    reply: FastifyReply,
  ) => {
    counts.generate++;
    const refused = await refuse(request.params.model, request.body, reply);
    if (refused) return refused;
    const text = echoPieces(String(request.body.text_input), maxTokensOf(request.body)).join('');
    return { model_name: request.params.model, model_version: '1', text_output: text };
  };

  const generateStream = async (
    request: { params: { model: string }; body: GenerateBody },
    reply: FastifyReply,
  ) => {
    counts.generateStream++;
    const refused = await refuse(request.params.model, request.body, reply);
    if (refused) return refused;
    const pieces = echoPieces(String(request.body.text_input), maxTokensOf(request.body));
    const { errorAfterEvents, stallAfterEvents } = faults;
    reply.hijack();
    const raw = reply.raw;
    counts.openStreams++;
    let sent = 0;
    raw.once('close', () => {
      counts.openStreams--;
      if (raw.writableFinished) return;
      // The caller went away mid-generation: what a real server sees when a client cancels.
      counts.cancelledStreams++;
      log(
        `inference-stub: stream cancelled by the caller after ${sent} of ${pieces.length} tokens`,
      );
    });
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    for (const [i, piece] of pieces.entries()) {
      if (raw.destroyed) return;
      if (errorAfterEvents !== undefined && i >= errorAfterEvents) {
        sseEvent(raw, { error: 'stub: injected error after the stream started' });
        raw.end();
        return;
      }
      if (stallAfterEvents !== undefined && i >= stallAfterEvents) return; // socket stays open
      if (tokenDelayMs > 0 && i > 0) await sleep(tokenDelayMs);
      sseEvent(raw, { model_name: request.params.model, model_version: '1', text_output: piece });
      sent++;
    }
    raw.end();
  };

  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.post<{ Params: { model: string }; Body: GenerateBody }>(`${prefix}/generate`, generate);
    app.post<{ Params: { model: string }; Body: GenerateBody }>(
      `${prefix}/generate_stream`,
      generateStream,
    );
  }

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  log(`${STAND_IN_NOTICE} (${address})`);
  const port = app.server.address();
  return {
    url: address,
    port: typeof port === 'object' && port ? port.port : 0,
    setFault(next) {
      faults = { ...next };
    },
    stats: () => ({ ...counts }),
    lastGenerate: () => last,
    close: () => app.close(),
  };
}
