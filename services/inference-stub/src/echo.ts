/**
 * The stand-in's "model": a deterministic echo, so tests can predict every byte and nobody can
 * mistake its output for a real model's. It finds the last user turn in the prompt (ChatML or
 * Llama 3 markers, else the prompt's tail) and answers `[stub] You said: <that turn>`, cut to
 * `maxTokens` pieces, where one piece is one whitespace-separated word (its leading space kept,
 * so the pieces concatenate back to the text exactly).
 */

const USER_TURN_PATTERNS = [
  /<\|im_start\|>user\n([\s\S]*?)<\|im_end\|>/g,
  /<\|start_header_id\|>user<\|end_header_id\|>\n\n([\s\S]*?)<\|eot_id\|>/g,
];

const TAIL_CHARS = 200;

/** The text of the prompt's last user turn, or the prompt's tail when no template is recognised. */
export function lastUserTurn(textInput: string): string {
  for (const pattern of USER_TURN_PATTERNS) {
    const matches = [...textInput.matchAll(pattern)];
    const last = matches.at(-1)?.[1];
    if (last !== undefined) return last.trim();
  }
  return textInput.slice(-TAIL_CHARS).trim();
}

/** The reply split into pieces: what generate joins and what generate_stream sends one by one. */
export function echoPieces(textInput: string, maxTokens: number): string[] {
  const words = `[stub] You said: ${lastUserTurn(textInput)}`.split(/\s+/).filter(Boolean);
  return words.slice(0, Math.max(0, maxTokens)).map((word, i) => (i === 0 ? word : ` ${word}`));
}
