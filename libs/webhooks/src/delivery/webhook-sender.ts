import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CheckedTarget } from '../security/url-guard';
import { pinnedLookup } from './target-agents';

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

/**
 * POSTs one signed body to a checked target. Success is a 2xx within `timeoutMs` (the whole
 * exchange: a receiver that trickles its answer times out too); redirects are not followed.
 * The host name still goes in Host and TLS SNI, and the certificate is checked against it.
 * With an `agent` (see TargetAgents) the connection may be a kept-alive one; a kept-alive
 * connection the receiver closed just as the request went out (reset before any answer) is
 * retried once on a fresh connection: the receiver saw nothing, and it would be sent again
 * anyway after a failed attempt (deliveries are at least once, with the same webhook-id).
 */
export async function sendWebhook(
  target: CheckedTarget,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  agent?: Agent,
): Promise<SendOutcome> {
  const started = performance.now();
  const first = await post(target, headers, body, timeoutMs, agent);
  const outcome = first.staleConnection ? await post(target, headers, body, Math.max(1, timeoutMs - (performance.now() - started)), agent) : first;
  return { statusCode: outcome.statusCode, error: outcome.error, excerpt: outcome.excerpt, latencyMs: Math.round(performance.now() - started) };
}

interface Exchange extends Omit<SendOutcome, 'latencyMs'> {
  /** A reused connection failed before any answer. */
  staleConnection?: boolean;
}

function post(target: CheckedTarget, headers: Record<string, string>, body: string, timeoutMs: number, agent: Agent | undefined): Promise<Exchange> {
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Exchange>((resolve) => {
    let settled = false;
    const finish = (outcome: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = request(
      {
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: `${target.url.pathname}${target.url.search}`,
        lookup: pinnedLookup(target),
        agent: agent ?? false,
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
        }),
    );
    const timer = setTimeout(() => {
      finish({ statusCode: null, error: `no answer within ${Math.round(timeoutMs)} ms`, excerpt: null });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({
        statusCode: null,
        error: error.code ? `${error.code}: ${error.message}` : error.message,
        excerpt: null,
        staleConnection: req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE'),
      }),
    );
    req.end(body);
  });
}

/**
 * Reads up to RESPONSE_READ_BYTES and returns the excerpt kept (text, cut at
 * RESPONSE_EXCERPT_BYTES). An answer read to its end leaves the connection reusable; a longer
 * one is cut off with its connection.
 */
/** Reads up to RESPONSE_READ_BYTES and returns the excerpt kept (text, cut at RESPONSE_EXCERPT_BYTES). */
function readCapped(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8'));
    };
    response.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_READ_BYTES) {
        finish();
        response.destroy();
      }
    });
    response.on('end', finish);
    response.on('error', finish);
    response.on('close', finish);
  });
}
