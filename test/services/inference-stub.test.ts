/**
 * The Triton stand-in speaks Triton's HTTP routes and shapes (health, repository index, generate,
 * generate_stream with `{"error"}` events), answers deterministically, says what it is, and
 * injects the faults the session manager's tests need.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoPieces, lastUserTurn } from '../../services/inference-stub/src/echo.ts';
import {
  type InferenceStub,
  STAND_IN_NOTICE,
  startInferenceStub,
} from '../../services/inference-stub/src/index.ts';
import { call, sseEvents } from './support.ts';

describe('inference stub (Triton stand-in)', () => {
  let stub: InferenceStub;
  const logged: string[] = [];

  beforeAll(async () => {
    stub = await startInferenceStub({ log: (line) => logged.push(line), models: ['stub-a'] });
  });
  afterAll(() => stub.close());

  it('announces itself as a stand-in when it starts', () => {
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(STAND_IN_NOTICE);
    expect(logged[0]).toContain(stub.url);
  });

  it('answers health and lists its models in Triton index shape', async () => {
    expect((await call(`${stub.url}/v2/health/live`)).status).toBe(200);
    expect((await call(`${stub.url}/v2/health/ready`)).status).toBe(200);
    const index = await call(`${stub.url}/v2/repository/index`, { body: {} });
    expect(index.body).toEqual([{ name: 'stub-a', version: '1', state: 'READY', reason: '' }]);
  });

  it('generates a deterministic echo of the last user turn', async () => {
    const body = {
      text_input: '<|im_start|>user\nfirst<|im_end|>\n<|im_start|>user\nsecond turn<|im_end|>\n',
      parameters: { max_tokens: 50 },
    };
    const first = await call(`${stub.url}/v2/models/stub-a/generate`, { body });
    const again = await call(`${stub.url}/v2/models/stub-a/versions/1/generate`, { body });
    expect(first.body).toEqual({
      model_name: 'stub-a',
      model_version: '1',
      text_output: '[stub] You said: second turn',
    });
    expect(again.body).toEqual(first.body);
  });

  it('streams the same text as SSE events of text_output', async () => {
    const res = await fetch(`${stub.url}/v2/models/stub-a/generate_stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text_input: 'plain prompt here', parameters: { max_tokens: 4 } }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = sseEvents(await res.text()).map((data) => JSON.parse(data));
    expect(events.map((e) => e.text_output)).toEqual(['[stub]', ' You', ' said:', ' plain']);
  });

  it('answers an unknown model and a missing text_input with Triton-style errors', async () => {
    const unknown = await call(`${stub.url}/v2/models/nope/generate`, {
      body: { text_input: 'x' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: expect.stringContaining('unknown model') });
    const bad = await call(`${stub.url}/v2/models/stub-a/generate`, { body: { text_input: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: expect.any(String) });
  });

  it('injects faults at runtime and clears them', async () => {
    stub.setFault({ unavailable: true });
    expect((await call(`${stub.url}/v2/health/ready`)).status).toBe(503);
    const index = await call(`${stub.url}/v2/repository/index`, { body: {} });
    expect((index.body as { state: string }[])[0]?.state).toBe('UNAVAILABLE');

    stub.setFault({ generateError: true });
    const failed = await call(`${stub.url}/v2/models/stub-a/generate`, {
      body: { text_input: 'x' },
    });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: expect.any(String) });

    stub.setFault({ errorAfterEvents: 2 });
    const res = await fetch(`${stub.url}/v2/models/stub-a/generate_stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text_input: 'a b c d' }),
    });
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text()).map((data) => JSON.parse(data));
    expect(events).toHaveLength(3);
    expect(events[2]).toEqual({ error: expect.any(String) });

    stub.setFault({ resetConnections: true });
    await expect(
      call(`${stub.url}/v2/models/stub-a/generate`, { body: { text_input: 'x' } }),
    ).rejects.toThrow();

    stub.setFault({});
    expect((await call(`${stub.url}/v2/health/ready`)).status).toBe(200);
  });

  it('finds the last user turn in ChatML, Llama 3, or falls back to the tail', () => {
    expect(
      lastUserTurn(
        '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nllama turn<|eot_id|>' +
          '<|start_header_id|>assistant<|end_header_id|>\n\n',
      ),
    ).toBe('llama turn');
    expect(lastUserTurn('no template')).toBe('no template');
    expect(echoPieces('x', 0)).toEqual([]);
  });
});
