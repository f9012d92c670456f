/**
 * Chat templates: how a list of messages becomes Triton's single `text_input`. Each model uses
 * the format it was fine-tuned on, chosen per model in MODELS_CONFIG (see models.ts). A template
 * renders one message at a time so the context trimmer can count each message's tokens once.
 *
 * Message content is user input: a literal `<|im_end|>` or `<|eot_id|>` in it could close the
 * turn and forge a system turn. Every `<|` in content is therefore defanged with a zero-width
 * space (`<\u200b|`), which keeps the text readable but no longer matches a control marker.
 */

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

export interface ChatTemplate {
  readonly name: TemplateName;
  /** Text before the first message (a BOS marker, if the format has one). */
  readonly begin: string;
  renderMessage(message: ChatMessage): string;
  /** Text after the last message that cues the model to answer as the assistant. */
  readonly generationPrompt: string;
}

export const TEMPLATE_NAMES = ['chatml', 'llama3'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export function defangControlMarkers(content: string): string {
  return content.replaceAll('<|', '<\u200b|');
}

const chatml: ChatTemplate = {
  name: 'chatml',
  begin: '',
  renderMessage: (m) => `<|im_start|>${m.role}\n${defangControlMarkers(m.content)}<|im_end|>\n`,
  generationPrompt: '<|im_start|>assistant\n',
};

/** Meta's Llama 3 / 3.1 instruct format. */
const llama3: ChatTemplate = {
  name: 'llama3',
  begin: '<|begin_of_text|>',
  renderMessage: (m) =>
    `<|start_header_id|>${m.role}<|end_header_id|>\n\n${defangControlMarkers(m.content)}<|eot_id|>`,
  generationPrompt: '<|start_header_id|>assistant<|end_header_id|>\n\n',
};

export const TEMPLATES: Readonly<Record<TemplateName, ChatTemplate>> = { chatml, llama3 };

export function renderPrompt(template: ChatTemplate, messages: readonly ChatMessage[]): string {
  return (
    template.begin +
    messages.map((m) => template.renderMessage(m)).join('') +
    template.generationPrompt
  );
}
