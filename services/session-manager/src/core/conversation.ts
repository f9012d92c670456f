/**
 * A session turn in plain functions: the messages the model sees (system prompt, stored
 * history with its token counts, the new user message) and the pair that is stored once the
 * answer is complete.
 */
import type { ChatTemplate } from './chat-template.ts';
import type { CountedMessage } from './context.ts';
import { newItemId } from './ids.ts';
import type { Session, StoredMessage } from './session-store.ts';
import { countTokensSliced } from './tokens.ts';

export function turnPrompt(session: Session, content: string): CountedMessage[] {
  return [
    ...(session.system !== undefined ? [{ role: 'system' as const, content: session.system }] : []),
    ...session.messages.map(({ role, content, tokens }) => ({
      role,
      content,
      ...(tokens ? { tokens } : {}),
    })),
    { role: 'user', content },
  ];
}

/** The user message and the answer, each with its token count under the model's template. */
export async function turnToStore(
  template: ChatTemplate,
  turn: { content: string; askedAt: number; answer: string; answeredAt: number },
): Promise<[StoredMessage, StoredMessage]> {
  const message = async (role: 'user' | 'assistant', content: string, createdAt: number) => ({
    id: newItemId(),
    role,
    content,
    createdAt,
    tokens: await countTokensSliced(template.renderMessage({ role, content })),
  });
  return [
    await message('user', turn.content, turn.askedAt),
    await message('assistant', turn.answer, turn.answeredAt),
  ];
}
