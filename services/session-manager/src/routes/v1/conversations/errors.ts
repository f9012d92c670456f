/** Errors of the Conversations API, shared with the Responses routes that use conversations. */
import { InvalidRequestError, NotFoundError } from '@axon/runtime/errors';
import type { SessionQuotas } from '../../../core/session-quotas.ts';

export const conversationNotFound = (id: string) =>
  new NotFoundError(
    'conversation_not_found',
    `No conversation '${id.slice(0, 128)}' exists for this API key.`,
  );

/** A conversation is a session, under the same caps; the code says which API hit them. */
export const conversationQuotaError = (quotas: SessionQuotas) =>
  new InvalidRequestError(
    'conversation_too_large',
    `The conversation would pass its plan's limit of ${quotas.maxSessionMessages} items or ${quotas.maxSessionBytes} bytes; start a new conversation.`,
  );
