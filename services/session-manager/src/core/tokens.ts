/**
 * Token counts for `usage` and context trimming, with gpt-tokenizer (OpenAI's o200k_base BPE).
 * The models behind Triton have their own vocabularies (Llama 3's is also a ~128k BPE, so counts
 * land close), which makes this an approximation for them: good for budgets and rate limits,
 * not a billing-exact count. Special-token text such as `<|im_end|>` is counted as plain text:
 * it is user content here, and gpt-tokenizer would otherwise throw on it.
 *
 * Cost is linear in the input, whatever its shape. BPE merges inside one pre-tokenized piece take
 * time quadratic in the piece's length, and a piece has no length limit (20 K of one letter took
 * 312 ms, 40 K took 1.4 s, 1 MB did not finish). So the text is cut into chunks of at most
 * CHUNK_CHARS, at a whitespace boundary when one is near (o200k keeps a leading space with the
 * word after it, so cutting before a space changes nothing), else hard, never inside a surrogate
 * pair. Each chunk costs a bounded amount; only a run longer than a chunk without whitespace is
 * counted a little differently than in one piece (a token never spans the cut), which is
 * within the approximation above.
 */
import { countTokens as count } from 'gpt-tokenizer';

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * Loads the BPE ranks (about 200 K entries) now instead of on the first request, which would
 * otherwise hold the event loop for a while at the first chat turn after start.
 */
export function warmUpTokenizer(): void {
  count('warm up', PLAIN_TEXT);
}

/** Longest chunk handed to the BPE; long enough to hold any o200k token (128 bytes). */
export const CHUNK_CHARS = 256;

/**
 * The most characters (UTF-16 code units) one o200k token can cover: its longest token is 128
 * bytes (a run of spaces), and a UTF-8 byte never stands for more than one code unit. A text of
 * n characters is therefore at least n / 128 tokens, which lets a size check refuse a text that
 * cannot fit a window before anything is tokenized.
 */
export const MAX_CHARS_PER_TOKEN = 128;

const isSpace = (code: number) =>
  code === 0x20 ||
  code === 0x0a ||
  code === 0x0d ||
  code === 0x09 ||
  code === 0x0b ||
  code === 0x0c;
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** Where the chunk starting at `start` ends (exclusive). */
export function chunkEnd(text: string, start: number): number {
  const limit = start + CHUNK_CHARS;
  if (limit >= text.length) return text.length;
  // Prefer a cut right before whitespace in the chunk's second half.
  for (let i = limit; i > start + CHUNK_CHARS / 2; i--) {
    if (isSpace(text.charCodeAt(i)) && !isSpace(text.charCodeAt(i - 1))) return i;
  }
  return isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit;
}

/** How long one stretch of counting may hold the event loop before it yields. */
export const SLICE_MS = 8;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `countTokens` for request paths: the same count, but it yields to the event loop every
 * SLICE_MS, so a long text (a large model window lets tens of thousands of tokens through)
 * delays other requests and the liveness probe by milliseconds, not by the whole count.
 */
export async function countTokensSliced(
  text: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  let total = 0;
  let sliceStart = performance.now();
  for (let start = 0; start < text.length && total <= limit; ) {
    const end = chunkEnd(text, start);
    total += count(text.slice(start, end), PLAIN_TEXT);
    start = end;
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return total;
}

/**
 * Tokens in `text`. With `limit`, counting stops as soon as the count passes it and returns that
 * partial count (still above `limit`): a caller that only needs to know "too many" pays for at
 * most `limit` tokens of work, however long the text is.
 */
export function countTokens(text: string, limit = Number.POSITIVE_INFINITY): number {
  let total = 0;
  for (let start = 0; start < text.length && total <= limit; ) {
    const end = chunkEnd(text, start);
    total += count(text.slice(start, end), PLAIN_TEXT);
    start = end;
  }
  return total;
}
