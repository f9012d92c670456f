import { countTokens as unchunkedCount } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_CHARS,
  chunkEnd,
  countTokens,
  MAX_CHARS_PER_TOKEN,
} from '../../services/session-manager/src/core/tokens.ts';

const PLAIN = { disallowedSpecial: new Set<string>() };

/** Input shapes that once made counting superlinear, or that could split badly. */
const SHAPES: Record<string, string> = {
  'one repeated letter': 'a'.repeat(5_000),
  'one very long word among short ones': `hello ${'x'.repeat(3_000)} world `.repeat(3),
  'runs of whitespace': ` ${' '.repeat(700)}\n\n\t${' '.repeat(300)}x`,
  'mixed scripts': 'Ünïcødé 漢字かな한국어 العربية русский '.repeat(60),
  emoji: '😀👍🏽🇫🇷👨‍👩‍👧'.repeat(300),
  'control characters': '\u0000\u0001\u0002\u001b[0m\t'.repeat(400),
  prose: 'The quick brown fox jumps over the lazy dog; then it naps. '.repeat(80),
};

function chunksOf(text: string): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length; ) {
    const end = chunkEnd(text, start);
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

describe('token counting in bounded chunks', () => {
  for (const [shape, text] of Object.entries(SHAPES)) {
    it(`cuts ${shape} into chunks no longer than ${CHUNK_CHARS}, losing nothing and splitting no surrogate pair`, () => {
      const chunks = chunksOf(text);
      expect(chunks.join('')).toBe(text);
      for (const chunk of chunks) {
        expect(chunk.length).toBeGreaterThan(0);
        expect(chunk.length).toBeLessThanOrEqual(CHUNK_CHARS);
        // A chunk never ends in the first half of a surrogate pair nor starts with the second.
        expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(chunk)).toBe(false);
      }
    });
  }

  it('counts text broken by whitespace exactly as one unchunked call would', () => {
    for (const shape of ['prose', 'mixed scripts'] as const) {
      const text = SHAPES[shape] as string;
      expect(countTokens(text)).toBe(unchunkedCount(text, PLAIN));
    }
  });

  it('stays within a few percent of the unchunked count on unbroken runs', () => {
    for (const shape of ['one repeated letter', 'runs of whitespace', 'emoji'] as const) {
      const text = SHAPES[shape] as string;
      const exact = unchunkedCount(text, PLAIN);
      expect(Math.abs(countTokens(text) - exact)).toBeLessThanOrEqual(Math.max(2, exact * 0.05));
    }
  });

  it('stops counting soon after the limit, however long the text', () => {
    const limit = 100;
    const counted = countTokens('b'.repeat(1_000_000), limit);
    expect(counted).toBeGreaterThan(limit);
    // One chunk past the limit at most: a chunk is at most CHUNK_CHARS tokens.
    expect(counted).toBeLessThanOrEqual(limit + CHUNK_CHARS);
  });

  it('never sees a token covering more characters than MAX_CHARS_PER_TOKEN', () => {
    for (const text of [' '.repeat(10_000), '-'.repeat(10_000), ...Object.values(SHAPES)]) {
      expect(countTokens(text)).toBeGreaterThanOrEqual(
        Math.ceil(text.length / MAX_CHARS_PER_TOKEN),
      );
    }
  });
});
