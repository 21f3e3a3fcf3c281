import { pipeline, Readable } from 'node:stream';
import { constants, createGzip } from 'node:zlib';
import type { ExportCompression } from '../exports.contract';
import type { Cell, RowEncoder } from './row-encoder';

export interface ExportStreamOptions {
  encoder: RowEncoder;
  pages: AsyncIterable<Cell[][]>;
  compression?: ExportCompression | null;
  /** Rows written so far, after each page. */
  onRows?: (rows: number) => void;
  /** Stops the stream with the signal's reason, also while it waits for the consumer. */
  signal?: AbortSignal;
}

/** Bytes the encoded stream may hold ahead of its consumer (storage) before the source waits. */
const HIGH_WATER_MARK = 1024 * 1024;
/**
 * Rows encoded into one string before it becomes bytes. A whole page as one string (megabytes)
 * lands in V8's large-object space, freed only by a full collection; a few dozen rows (tens of
 * kilobytes) stay in the young generation and die there.
 */
const ROWS_PER_STRING = 64;
/** Size of the buffers the encoded rows are written into (each page yields the part it filled). */
const BUFFER_BYTES = 1024 * 1024;

/**
 * The export as a byte stream. Pages are pulled only when the consumer wants more (Readable.from
 * over the generator, in byte mode): a slow storage slows the database reads instead of
 * filling memory. With gzip the compressor sits between the two, under the same back-pressure.
 */
export function exportStream(options: ExportStreamOptions): Readable {
  const { encoder, pages, onRows } = options;
  async function* encode(): AsyncGenerator<Buffer> {
    let rows = 0;
    const head = encoder.head();
    if (head) yield Buffer.from(head);
    // Bytes go into a buffer of BUFFER_BYTES as soon as they are encoded, so no string outlives its
    // few rows. Each page yields the part of the buffer it filled; the next page goes on filling the
    // rest of the same buffer (the yielded part is never written again), and a new buffer is made
    // only when the current one is full.
    let buffer = Buffer.allocUnsafe(BUFFER_BYTES);
    let start = 0;
    let used = 0;
    const take = () => {
      const filled = buffer.subarray(start, used);
      start = used;
      return filled;
    };
    for await (const page of pages) {
      for (let at = 0; at < page.length; at += ROWS_PER_STRING) {
        const text = encoder.page(page.length <= ROWS_PER_STRING ? page : page.slice(at, at + ROWS_PER_STRING));
        const bytes = Buffer.byteLength(text);
        if (used + bytes > buffer.length) {
          if (used > start) yield take();
          buffer = Buffer.allocUnsafe(Math.max(BUFFER_BYTES, bytes));
          start = used = 0;
        }
        used += buffer.write(text, used);
      }
      rows += page.length;
      if (used > start) yield take();
      onRows?.(rows);
    }
    const tail = encoder.tail();
    if (tail) yield Buffer.from(tail);
  }
  const body = Readable.from(encode(), { objectMode: false, highWaterMark: HIGH_WATER_MARK });
  let out: Readable = body;
  if (options.compression === 'gzip') {
    // The fastest level: an export is read once and deleted after its retention, so speed counts more than the last percent of size.
    const gzip = createGzip({ level: constants.Z_BEST_SPEED });
    pipeline(body, gzip, () => undefined);
    out = gzip;
  }
  const signal = options.signal;
  if (signal) {
    const stop = () => out.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) stop();
    else {
      signal.addEventListener('abort', stop, { once: true });
      out.once('close', () => signal.removeEventListener('abort', stop));
    }
  }
  return out;
}
