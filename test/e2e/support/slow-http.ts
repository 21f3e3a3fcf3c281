import { connect } from 'node:net';

export interface SlowRequest {
  /** The request line and headers, sent at once (without the blank line that ends them). */
  head: string;
  /** The body, sent `chunkBytes` at a time every `intervalMs`. */
  body?: Buffer;
  chunkBytes?: number;
  intervalMs?: number;
  /** Stop sending (and keep the connection open) after this many body bytes. */
  stopAfterBytes?: number;
  /** Headers arrive slowly too: the blank line ending them is never sent. */
  unfinishedHead?: boolean;
  /** Connect from this local address (any of 127.0.0.0/8 works on loopback). */
  localAddress?: string;
  /** Give up (and report `closed: false`) after this long. */
  timeoutMs?: number;
}

export interface SlowOutcome {
  /** Status of the first response, if any came. */
  status?: number;
  /** Everything the server sent. */
  text: string;
  /** When the first response byte came, if one did. */
  answeredAfterMs?: number;
  /** Whether the server closed the connection before `timeoutMs`. */
  closed: boolean;
  closedAfterMs: number;
  /** Body bytes written before the answer came (or before the end). */
  bodyBytesSentBeforeAnswer: number;
}

/**
 * A client that drip-feeds a request over a raw connection, the way a slow or hostile client
 * does, and records what the server answered and when it closed the connection.
 */
export function slowRequest(port: number, request: SlowRequest): Promise<SlowOutcome> {
  const { body = Buffer.alloc(0), chunkBytes = 1, intervalMs = 100, stopAfterBytes = body.length, timeoutMs = 30_000 } = request;
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress: request.localAddress });
    let text = '';
    let sent = 0;
    let answeredAfterMs: number | undefined;
    let sentBeforeAnswer: number | undefined;
    let drip: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(drip);
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]) || undefined;
      resolve({ status, text, answeredAfterMs, closed, closedAfterMs: Date.now() - started, bodyBytesSentBeforeAnswer: sentBeforeAnswer ?? sent });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (answeredAfterMs === undefined) {
        answeredAfterMs = Date.now() - started;
        sentBeforeAnswer = sent;
      }
      text += chunk.toString('latin1');
    });
    // EPIPE / ECONNRESET: the server cut us while we were still sending; 'close' follows.
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      socket.write(request.unfinishedHead ? `${request.head}\r\n` : `${request.head}\r\n\r\n`, 'latin1');
      drip = setInterval(() => {
        if (request.unfinishedHead) return void (socket.writable && socket.write('X-Slow: 1\r\n'));
        if (sent >= stopAfterBytes || !socket.writable) return clearInterval(drip);
        const chunk = body.subarray(sent, Math.min(sent + chunkBytes, stopAfterBytes));
        sent += chunk.length;
        socket.write(chunk);
      }, intervalMs);
    });
  });
}
