import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * Collects output text and writes it to a stream in large UTF-8 chunks, honouring
 * backpressure: `flush` waits for 'drain' when the stream asks it to. Without a stream
 * (no rejects file wanted, or an index-only pass) text is counted and dropped.
 */
export class OutputSink {
  bytes = 0;
  /** Milliseconds spent waiting for the stream to drain. */
  waitedMs = 0;
  private text = '';
  private error: Error | undefined;
  private readonly onError = (error: Error) => {
    this.error ??= error;
  };

  constructor(
    private readonly stream: Writable | undefined,
    private readonly enabled = true,
  ) {
    stream?.on('error', this.onError);
  }

  get active(): boolean {
    return this.enabled;
  }

  append(text: string): void {
    if (this.enabled) this.text += text;
  }

  get pendingChars(): number {
    return this.text.length;
  }

  /** Writes what was collected; resolves when the stream can take more. */
  async flush(signal: AbortSignal | undefined): Promise<void> {
    if (this.error) throw this.error;
    if (this.text.length === 0) return;
    const chunk = Buffer.from(this.text, 'utf8');
    this.text = '';
    this.bytes += chunk.length;
    if (!this.stream) return;
    if (this.stream.write(chunk)) return;
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const stream = this.stream!;
      const cleanup = () => {
        stream.off('drain', onDrain);
        stream.off('error', onFail);
        stream.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onFail = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onClose = () => {
        cleanup();
        reject(this.error ?? new Error('the output stream closed before cleaning finished'));
      };
      const onAbort = () => {
        cleanup();
        reject(signal!.reason);
      };
      stream.on('drain', onDrain);
      stream.on('error', onFail);
      stream.on('close', onClose);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    this.waitedMs += performance.now() - started;
  }

  /** Flushes, ends the stream and waits until everything is handed to the destination. */
  async end(signal: AbortSignal | undefined): Promise<void> {
    await this.flush(signal);
    if (!this.stream) return;
    this.stream.end();
    await finished(this.stream, { readable: false, signal });
    // The error listener stays: a late 'error' from a caller's stream must not crash the process.
  }
}
