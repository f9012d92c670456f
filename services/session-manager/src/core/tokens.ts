/**
 * Token counts for `usage` and context trimming, with gpt-tokenizer (OpenAI's o200k_base BPE).
 * The models behind Triton have their own vocabularies (Llama 3's is also a ~128k BPE, so counts
 * land close), which makes this an approximation for them: good for budgets and rate limits,
 * not a billing-exact count. Special-token text such as `<|im_end|>` is counted as plain text:
 * it is user content here, and gpt-tokenizer would otherwise throw on it.
 */
import { countTokens as count } from 'gpt-tokenizer';

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  return text === '' ? 0 : count(text, PLAIN_TEXT);
}
