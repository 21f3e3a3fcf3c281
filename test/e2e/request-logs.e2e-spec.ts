import { request as httpRequest } from 'node:http';
import { waitFor } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

type Line = Record<string, any>;

/**
 * The API's request log: one JSON line per request, written from Fastify hooks when the
 * response closes, with the fields operators filter on (request id, method, url, status,
 * response time), levels by status, and no lines for probes and scrapes.
 */
describe('request logs', () => {
  let stack: Stack;
  const logs = () => stack.api!.logs() as Line[];
  const lineOf = (id: string): Line | undefined => logs().find((line) => line.req?.id === id && typeof line.responseTime === 'number');

  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('writes one line per request with request id, method, url, query, headers, status and response time', async () => {
    const accepted = await http(stack.apiUrl, 'POST', '/v1/tasks?trace=1', { type: 'system.noop', payload: {} }, { 'x-request-id': 'rl-accepted' });
    expect(accepted.status).toBe(202);
    const line = await waitFor(() => lineOf('rl-accepted'), { what: 'the request line' });
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      service: 'conveyor-api',
      req: {
        id: 'rl-accepted',
        method: 'POST',
        url: '/v1/tasks?trace=1',
        query: { trace: '1' },
        headers: { authorization: '[redacted]', 'x-request-id': 'rl-accepted', 'content-type': 'application/json' },
        remoteAddress: expect.any(String),
        remotePort: expect.any(Number),
      },
      res: { statusCode: 202, headers: { 'x-request-id': 'rl-accepted', location: `/v1/tasks/${accepted.body.id}` } },
      responseTime: expect.any(Number),
    });
    expect(logs().filter((l) => l.req?.id === 'rl-accepted')).toHaveLength(1);
    // The security headers every response carries unchanged are left out of the line (the
    // response had them: see the security e2e); the headers that say something stay.
    expect(accepted.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(Object.keys(line.res.headers as object)).not.toContain('x-frame-options');
    expect(Object.keys(line.res.headers as object)).not.toContain('content-security-policy');
  });

  it('logs client errors at warn, including requests refused before any controller', async () => {
    await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, bogus: 1 }, { 'x-request-id': 'rl-invalid' });
    await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} }, { authorization: '', 'x-request-id': 'rl-unauthenticated' });
    await http(stack.apiUrl, 'GET', '/v1/nowhere', undefined, { 'x-request-id': 'rl-unrouted' });
    await http(stack.apiUrl, 'POST', '/v1/tasks', '{not json', { 'x-request-id': 'rl-bad-json' });
    for (const [id, status] of [
      ['rl-invalid', 400],
      ['rl-unauthenticated', 401],
      ['rl-unrouted', 404],
      ['rl-bad-json', 400],
    ] as const) {
      const line = await waitFor(() => lineOf(id), { what: `the line of ${id}` });
      expect({ id, level: line.level, msg: line.msg, status: line.res.statusCode }).toEqual({ id, level: 40, msg: 'request completed', status });
    }
  });

  it('writes no line for probes and scrapes', async () => {
    for (const path of ['/health/live', '/health/ready', '/metrics']) {
      expect((await http(stack.apiUrl, 'GET', path, undefined, { 'x-request-id': `rl-quiet-${path.slice(1).replace('/', '-')}` })).status).toBe(200);
    }
    // A request after them: once its line is out, theirs would be too.
    await http(stack.apiUrl, 'GET', '/v1/tasks?limit=1', undefined, { 'x-request-id': 'rl-after-probes' });
    await waitFor(() => lineOf('rl-after-probes'), { what: 'the line after the probes' });
    expect(logs().filter((line) => String(line.req?.id).startsWith('rl-quiet-'))).toEqual([]);
  });

  it('logs a request the client gave up on as aborted', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 600_000 });
    // An event stream the client closes: the response never ends on the server's side.
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${stack.apiUrl}/v1/tasks/${created.body.id}/events`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-request-id': 'rl-aborted' },
      });
      request.on('response', (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      request.end();
    });
    const line = await waitFor(() => lineOf('rl-aborted'), { what: 'the aborted request line' });
    expect({ level: line.level, msg: line.msg, status: line.res.statusCode }).toEqual({ level: 30, msg: 'request aborted', status: 200 });
  });
});
