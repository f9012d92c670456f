/**
 * What an error may put in a log line. Failures a client causes, or that Triton or Redis cause,
 * are logged by name, code and message only: their stacks say nothing the code does not, and
 * their messages name internal endpoints (`connect ECONNREFUSED 10.0.3.7:8000`,
 * `triton.inference.svc.cluster.local`), which logs shipped to a shared account should not
 * carry. Addresses, host names and URLs are replaced by placeholders. Only an unexpected error
 * (our own bug, a 500) also logs its stack, through `unexpectedStack`.
 */

export interface ErrorFields {
  name: string;
  code?: string;
  message: string;
  cause?: ErrorFields;
}

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi;
const IPV4_PATTERN = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
const IPV6_PATTERN = /\[[0-9a-f:.]+\](?::\d{1,5})?|\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b/gi;
/** A dotted name ending in letters (a DNS name, not a version or a decimal), or any name:port. */
const HOST_PATTERN =
  /\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9](?::\d{1,5})?\b|\b[a-z][a-z0-9-]*:\d{2,5}\b/gi;

/** `text` with URLs, IP addresses and host names replaced. */
export function scrubHosts(text: string): string {
  return text
    .replace(URL_PATTERN, '<url>')
    .replace(IPV6_PATTERN, '<address>')
    .replace(IPV4_PATTERN, '<address>')
    .replace(HOST_PATTERN, '<host>');
}

const MAX_DEPTH = 3;

/** Name, code and scrubbed message of an error and of its causes; never a stack. */
export function errorFields(error: unknown, depth = 0): ErrorFields {
  if (!(error instanceof Error)) {
    // A plain `{ message }` (how redis.ts logs a lost connection) keeps its message.
    const message = (error as { message?: unknown })?.message;
    const text = typeof message === 'string' ? message : String(error);
    return { name: typeof error, message: scrubHosts(text).slice(0, 500) };
  }
  const code = (error as { code?: unknown }).code;
  const fields: ErrorFields = {
    name: error.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    message: scrubHosts(error.message).slice(0, 500),
  };
  if (error.cause !== undefined && depth < MAX_DEPTH) {
    fields.cause = errorFields(error.cause, depth + 1);
  }
  return fields;
}

/**
 * The stack of an unexpected error (a 500), the one case where it helps: frames as they are
 * (file names would read as host names), the message lines scrubbed.
 */
export function unexpectedStack(error: unknown): string | undefined {
  if (!(error instanceof Error) || !error.stack) return undefined;
  return error.stack
    .split('\n')
    .map((line) => (/^\s+at /.test(line) ? line : scrubHosts(line)))
    .join('\n');
}
