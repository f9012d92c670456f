/**
 * A Server-Sent Events reader (WHATWG event-stream format) over a byte stream: yields the `data`
 * of each event. Triton's generate_stream sends one JSON object per event. One event may not
 * exceed `maxEventBytes`, so a misbehaving upstream cannot make us buffer without bound.
 */

export class SseProtocolError extends Error {}

export async function* readSseData(
  body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  maxEventBytes = 1024 * 1024,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];

  function* takeLines(final: boolean): Generator<string> {
    // Lines end in \n, \r\n or \r; a trailing \r may be the first half of \r\n, so wait for more.
    const pattern = /\r\n|\n|\r/g;
    let start = 0;
    for (let match = pattern.exec(buffer); match; match = pattern.exec(buffer)) {
      if (match[0] === '\r' && match.index === buffer.length - 1 && !final) break;
      yield buffer.slice(start, match.index);
      start = match.index + match[0].length;
    }
    buffer = buffer.slice(start);
  }

  function* onLine(line: string): Generator<string> {
    if (line === '') {
      if (data.length > 0) yield data.join('\n');
      data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
  }

  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (const line of takeLines(false)) yield* onLine(line);
    const pending = buffer.length + data.reduce((n, d) => n + d.length, 0);
    if (pending > maxEventBytes) {
      throw new SseProtocolError(`an event exceeded ${maxEventBytes} bytes`);
    }
  }
  buffer += decoder.decode();
  for (const line of takeLines(true)) yield* onLine(line);
  if (buffer !== '') yield* onLine(buffer);
  // A stream that ends without a blank line still dispatches its last event.
  if (data.length > 0) yield data.join('\n');
}
