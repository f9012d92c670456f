/**
 * Usage from a Server-Sent Events body read chunk by chunk, for the streaming edge. Each complete
 * line that can hold usage goes through `reportedUsage`, the buffered edge's parser, so both edges
 * book exactly the same figure for the same stream. A chunk may end mid-line or mid-character;
 * the decoder and the kept tail join them.
 */
import { StringDecoder } from 'node:string_decoder';
import { type ReportedUsage, reportedUsage } from './usage.ts';

/** A line longer than this cannot be a usage line the session manager writes; it is dropped. */
const MAX_LINE_CHARS = 64 * 1024;

export class StreamUsage {
  private readonly decoder = new StringDecoder('utf8');
  private tail = '';
  /** The last usage the stream reported so far, if any. */
  usage: ReportedUsage | undefined;

  /** Its total: what the token bucket books. */
  get tokens(): number | undefined {
    return this.usage?.total;
  }

  push(chunk: Buffer): void {
    const text = this.tail + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.tail = lines.pop() ?? '';
    if (this.tail.length > MAX_LINE_CHARS) this.tail = '';
    for (const line of lines) this.line(line);
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    this.line(this.tail + this.decoder.end());
    this.tail = '';
  }

  private line(line: string): void {
    if (!line.includes('total_tokens')) return;
    const found = reportedUsage('text/event-stream', Buffer.from(line));
    if (found !== undefined) this.usage = found;
  }
}
