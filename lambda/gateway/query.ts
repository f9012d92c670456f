/**
 * Query parameters of the admin API, read as OpenAI's SDKs send them (arrays as `name[]=a`, the
 * `qs` brackets format, or repeated `name=a`), each mistake a 400 naming the parameter.
 */
import { InvalidRequestError } from '@axon/runtime/errors';

/** A whole-number query parameter within bounds; absent: `undefined`. */
export function integer(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < min || value > max) {
    throw new InvalidRequestError(
      'invalid_value',
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 64))}.`,
    );
  }
  return value;
}

/** A query parameter that must be one of `choices`; absent: `fallback`. */
export function oneOf<T extends string>(
  query: URLSearchParams,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const text = query.get(name);
  if (text === null) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new InvalidRequestError(
      'invalid_value',
      `${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(text.slice(0, 64))}.`,
    );
  }
  return text as T;
}

/** An array query parameter as the SDKs send it (`name[]=a&name[]=b`) or repeated (`name=a`). */
export function list(query: URLSearchParams, name: string): string[] {
  return [...query.getAll(name), ...query.getAll(`${name}[]`)];
}
