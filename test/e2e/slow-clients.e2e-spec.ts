import { request as httpRequest } from 'node:http';
import { waitFor } from '@conveyor/testing';
import { startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';
import { slowRequest, type SlowOutcome } from './support/slow-http';

const REQUEST_TIMEOUT_MS = 2000;
const CONNECTIONS_PER_ADDRESS = 30;
const admin = `Authorization: Bearer ${TEST_ADMIN_KEY}`;
const postHead = (path: string, length: number, ...headers: string[]) =>
  [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/json', `Content-Length: ${length}`, ...headers].join('\r\n');
const task = Buffer.from(JSON.stringify({ type: 'system.noop', payload: { pad: 'x'.repeat(200) } }));

/** One request over its own connection from `localAddress`, with node:http. */
function requestFrom(port: number, localAddress: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(text ? { 'content-type': 'application/json' } : {}) };
    const request = httpRequest({ host: '127.0.0.1', port, method, path, localAddress, agent: false, headers, timeout: 10_000 }, (response) => {
      let data = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (data += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: data }));
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    request.on('error', reject);
    request.end(text);
  });
}

const errorCode = (outcome: SlowOutcome) => JSON.parse(outcome.text.slice(outcome.text.indexOf('\r\n\r\n') + 4)).error.code as string;

/**
 * Slow clients (issue #11, defect 4): a body dripped in a byte at a time used to hold its
 * connection forever (no request timeout), and the key was checked only after the whole body
 * had been read. Timeouts are small here so the test is quick; generous margins stand for
 * "no hang" on a loaded machine.
 */
describe('slow clients', () => {
  let stack: Stack;
  let port: number;

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: {
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        HTTP_HEADERS_TIMEOUT_MS: '1000',
        HTTP_MAX_CONNECTIONS_PER_ADDRESS: String(CONNECTIONS_PER_ADDRESS),
        RATE_LIMIT_PER_MINUTE: '1000000',
        AUTH_FAILURES_PER_MINUTE: '1000000',
      },
    });
    port = Number(new URL(stack.apiUrl).port);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 401 to an unauthenticated POST before any of its announced body is sent', async () => {
    for (const head of [
      postHead('/v1/tasks', 50 * 1024 * 1024),
      postHead('/v1/tasks', 50 * 1024 * 1024, 'Authorization: Bearer cvk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
      postHead('/v1/files', 500 * 1024 * 1024).replace('application/json', 'multipart/form-data; boundary=b'),
    ]) {
      // The body would take hours at this pace; the answer must not wait for it.
      const outcome = await slowRequest(port, { head, body: Buffer.alloc(1024, 'a'), intervalMs: 1000, timeoutMs: 20_000 });
      expect({ head, status: outcome.status, code: errorCode(outcome) }).toEqual({ head, status: 401, code: 'UNAUTHENTICATED' });
      expect(outcome.bodyBytesSentBeforeAnswer).toBeLessThan(10);
      // And the connection, with its body still unread, is let go of: one answer, then closed.
      expect(outcome.closed).toBe(true);
      expect(outcome.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    }
  });

  it('cuts a drip-fed body, a stalled body and drip-fed headers with 408 once the time is up', async () => {
    const cases = {
      drip: { head: postHead('/v1/tasks', task.length, admin), body: task, intervalMs: 200 },
      stalled: { head: postHead('/v1/tasks', task.length, admin), body: task, chunkBytes: 10, stopAfterBytes: 10, intervalMs: 10 },
      upload: {
        head: postHead('/v1/files', 10_000, admin).replace('application/json', 'multipart/form-data; boundary=b'),
        body: Buffer.alloc(10_000, 'a'),
        intervalMs: 200,
      },
      headers: { head: 'GET /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1', unfinishedHead: true, intervalMs: 200 },
    };
    const outcomes = await Promise.all(Object.values(cases).map((request) => slowRequest(port, { ...request, timeoutMs: 30_000 })));
    for (const [name, outcome] of Object.keys(cases).map((name, i) => [name, outcomes[i]] as const)) {
      expect({ name, status: outcome.status, code: errorCode(outcome), closed: outcome.closed }).toEqual({
        name,
        status: 408,
        code: 'REQUEST_TIMEOUT',
        closed: true,
      });
      expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(name === 'headers' ? 900 : REQUEST_TIMEOUT_MS - 100);
    }
  });

  it('keeps serving other clients while many drip-fed connections are open, and caps them per address', async () => {
    const dripping = Array.from({ length: CONNECTIONS_PER_ADDRESS + 30 }, () =>
      slowRequest(port, { head: postHead('/v1/tasks', task.length, admin), body: task, intervalMs: 250, localAddress: '127.0.0.1', timeoutMs: 30_000 }),
    );
    // While they drip: another address is served at once, reads and writes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await requestFrom(port, '127.0.0.2', 'GET', '/v1/tasks?limit=1')).status).toBe(200);
    expect((await requestFrom(port, '127.0.0.2', 'POST', '/v1/tasks', { type: 'system.noop', payload: {} })).status).toBe(202);

    const outcomes = await Promise.all(dripping);
    expect(outcomes.every((outcome) => outcome.closed)).toBe(true);
    const refused = outcomes.filter((outcome) => outcome.status === undefined);
    const timedOut = outcomes.filter((outcome) => outcome.status === 408);
    // Over the cap the connection is closed before anything is read; the rest time out.
    expect(refused.length).toBeGreaterThanOrEqual(30);
    expect(refused.length + timedOut.length).toBe(outcomes.length);
    // Once they are gone, the address is welcome again (the server may see the last close a
    // moment after the client does, so a refusal right at the edge is retried).
    const again = await waitFor(async () => (await requestFrom(port, '127.0.0.1', 'GET', '/v1/tasks?limit=1')).status, {
      timeoutMs: 5000,
      what: 'the address to be served again',
    });
    expect(again).toBe(200);
  });
});
