import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget } from '../security/url-guard';

/** Most of a response body read; the rest is dropped unread. */
export const RESPONSE_READ_BYTES = 64 * 1024;
/** What the delivery log keeps of it. */
export const RESPONSE_EXCERPT_BYTES = 4 * 1024;

export interface SendOutcome {
  /** The answer's status; null when none came. */
  statusCode: number | null;
  latencyMs: number;
  /** Why the attempt failed, if it did (a non-2xx status included). */
  error: string | null;
  excerpt: string | null;
}

/** A lookup that answers with the address the guard checked: the connection goes there and nowhere else. */
function pinnedLookup(target: CheckedTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
}

/**
 * POSTs one signed body to a checked target. Success is a 2xx within `timeoutMs` (the whole
 * exchange: a receiver that trickles its answer times out too); redirects are not followed.
 * The host name still goes in Host and TLS SNI, and the certificate is checked against it.
 */
export function sendWebhook(target: CheckedTarget, headers: Record<string, string>, body: string, timeoutMs: number): Promise<SendOutcome> {
  const started = performance.now();
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<SendOutcome, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, latencyMs: Math.round(performance.now() - started) });
    };
    const req = request(
      {
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        lookup: pinnedLookup(target),
        agent: false,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Conveyor-Webhooks/1',
        },
      },
      (response) =>
        void readCapped(response).then((excerpt) => {
          const status = response.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const error = ok ? null : status >= 300 && status < 400 ? `redirect (${status}) not followed` : `status ${status}`;
          finish({ statusCode: status, error, excerpt });
          response.destroy();
        }),
    );
    const timer = setTimeout(() => {
      finish({ statusCode: null, error: `no answer within ${timeoutMs} ms`, excerpt: null });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ statusCode: null, error: error.code ? `${error.code}: ${error.message}` : error.message, excerpt: null }),
    );
    req.end(body);
  });
}

/** Reads up to RESPONSE_READ_BYTES and returns the excerpt kept (text, cut at RESPONSE_EXCERPT_BYTES). */
function readCapped(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      response.removeAllListeners('data');
      resolve(Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8'));
    };
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_READ_BYTES) done();
    });
    response.on('end', done);
    response.on('error', done);
    response.on('close', done);
  });
}
