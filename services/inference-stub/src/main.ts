/**
 * CLI for the Triton stand-in: `tsx services/inference-stub/src/main.ts [--port 8000]
 * [--host 127.0.0.1] [--latency-ms 0] [--token-delay-ms 0] [--models a,b]`; the token delay
 * defaults to `AXON_STUB_TOKEN_DELAY_MS`, as under `npm start`. Prints one JSON line
 * `{"url": ...}` on stdout once listening, so scripts can read the address; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startInferenceStub } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'latency-ms': { type: 'string', default: '0' },
    'token-delay-ms': { type: 'string', default: process.env.AXON_STUB_TOKEN_DELAY_MS || '0' },
    models: { type: 'string' },
  },
});

function nonNegativeInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number >= 0, got '${raw}'`);
    process.exit(2);
  }
  return n;
}

const stub = await startInferenceStub({
  port: nonNegativeInt('port', values.port),
  host: values.host,
  latencyMs: nonNegativeInt('latency-ms', values['latency-ms']),
  tokenDelayMs: nonNegativeInt('token-delay-ms', values['token-delay-ms']),
  ...(values.models ? { models: values.models.split(',').filter(Boolean) } : {}),
});
console.log(JSON.stringify({ url: stub.url }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stub.close().then(() => process.exit(0));
  });
}
