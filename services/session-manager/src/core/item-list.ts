/**
 * One page of an item list in OpenAI's list shape: `after` is the id of the last item of the
 * previous page; an `after` that names no item is a 400, since silently restarting at the first
 * page would loop a client forever.
 */
import { InvalidRequestError } from '@axon/runtime/errors';

export interface ItemPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export function itemPage<T extends { id: string }>(
  items: readonly T[],
  query: { limit?: number; after?: string; order?: 'asc' | 'desc' },
): ItemPage<T> {
  const ordered = query.order === 'asc' ? [...items] : [...items].reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after);
    if (at < 0) {
      throw new InvalidRequestError(
        'invalid_value',
        'after: must be the id of an item from a previous page of this list.',
      );
    }
    start = at + 1;
  }
  const limit = query.limit ?? 20;
  const data = ordered.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}
