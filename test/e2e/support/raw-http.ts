import { connect } from 'node:net';

/** A request as bytes on the wire: nothing is validated or normalised, unlike fetch or node:http. */
export interface RawRequest {
  method: string;
  /** The request-target exactly as sent (already percent-encoded, or deliberately not). */
  target: string;
  /** Values are sent as latin1, so any byte 0x00-0xff can be put into a header. */
  headers: Array<[string, string]>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface MultipartPart {
  name: string;
  filename?: string;
  content: Buffer;
}

/** A multipart/form-data body; `boundary` is what the body uses, the header may say otherwise. */
export function multipartBody(parts: MultipartPart[], boundary: string): Buffer {
  return Buffer.concat([
    ...parts.flatMap((part) => [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}\r\n\r\n`,
      ),
      part.content,
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);
}

function encode(request: RawRequest, connection: 'close' | 'keep-alive'): Buffer {
  const head = [
    `${request.method} ${request.target} HTTP/1.1`,
    'Host: 127.0.0.1',
    `Connection: ${connection}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ...(request.body ? [`Content-Length: ${request.body.length}`] : []),
  ].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), request.body ?? Buffer.alloc(0)]);
}

/** One request per connection (`Connection: close`), read until the server closes. */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const bytes = encode(request, 'close');

  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      try {
        settle();
      } catch (error) {
        reject(error);
      }
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no complete response within ${timeoutMs} ms`))), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A complete message ends the exchange even if the server keeps the connection open
      // (a response may say `Connection: keep-alive` although the request said close).
      const received = Buffer.concat(chunks);
      if (messageLength(received, request.method) !== undefined) finish(() => resolve(parseResponse(received)));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close while we still send a body it has already refused (e.g. 413).
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') finish(() => reject(error));
    });
    socket.on('close', () => finish(() => resolve(parseResponse(Buffer.concat(chunks)))));
    // Not end(): Node's HTTP server aborts a request whose client half-closes the connection.
    // `Connection: close` makes the server close it after the response.
    socket.write(bytes);
  });
}

/**
 * Several requests one after another on one keep-alive connection, each sent once the answer
 * to the one before is complete: what a pooling client (fetch, node:http agents) does.
 */
export function exchangeOnOneConnection(port: number, requests: RawRequest[], timeoutMs = 10_000): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const responses: RawResponse[] = [];
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const sendNext = () => {
      const request = requests[responses.length];
      clearTimeout(timer);
      timer = setTimeout(
        () => fail(new Error(`request ${responses.length + 1} (${request.method} ${request.target}): no complete response within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.write(encode(request, 'keep-alive'));
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const length = messageLength(received, requests[responses.length].method);
      if (length === undefined) return;
      responses.push(parseResponse(received.subarray(0, length)));
      received = received.subarray(length);
      if (responses.length < requests.length) return sendNext();
      clearTimeout(timer);
      socket.destroy();
      resolve(responses);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') fail(error);
    });
    socket.on('close', () => fail(new Error(`the server closed the connection after ${responses.length} of ${requests.length} responses`)));
    sendNext();
  });
}

/**
 * The length of the first complete response in `raw` by its own framing (no body,
 * Content-Length or the last chunk), or undefined while it is incomplete.
 */
function messageLength(raw: Buffer, method: string): number | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = raw.subarray(0, end).toString('latin1');
  if (method === 'HEAD' || /^HTTP\/1\.[01] (1\d\d|204|304) /.test(head)) return end + 4;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return raw.length - (end + 4) >= Number(length[1]) ? end + 4 + Number(length[1]) : undefined;
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    const last = raw.indexOf('\r\n0\r\n\r\n', end);
    return last < 0 ? undefined : last + 7;
  }
  return undefined;
}

function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP response (connection closed after ${raw.length} bytes)`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!status) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status, headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
