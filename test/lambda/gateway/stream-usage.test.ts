import { describe, expect, it } from 'vitest';
import { StreamUsage } from '#gateway/stream-usage';
import { usedTokens } from '#gateway/usage';

const STREAM = [
  'data: {"choices":[{"delta":{"content":"héllo 日本"}}]}\n\n',
  ': usage {"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}\n\n',
  'data: [DONE]\n\n',
].join('');

describe('StreamUsage', () => {
  it('books what the buffered parser books, however the stream is cut into chunks', () => {
    const bytes = Buffer.from(STREAM);
    const whole = usedTokens('text/event-stream', bytes);
    for (let size = 1; size <= bytes.length; size += 7) {
      const usage = new StreamUsage();
      for (let at = 0; at < bytes.length; at += size) usage.push(bytes.subarray(at, at + size));
      usage.end();
      expect(usage.tokens, `chunks of ${size} bytes`).toBe(whole);
    }
    expect(whole).toBe(14);
  });

  it('reads the OpenAI usage chunk, and a last line that ends without a newline', () => {
    const usage = new StreamUsage();
    usage.push(Buffer.from('data: {"choices":[],"usage":{"total_tokens":3}}\n\n'));
    expect(usage.tokens).toBe(3);
    usage.push(Buffer.from(': usage {"total_tokens":21}'));
    expect(usage.tokens).toBe(3);
    usage.end();
    expect(usage.tokens).toBe(21);
  });

  it('reports nothing for a stream cut before its usage', () => {
    const usage = new StreamUsage();
    usage.push(Buffer.from('data: {"choices":[{"delta":{"content":"total_tokens"}}]}\n\n'));
    expect(usage.tokens).toBeUndefined();
  });
});
