import { request as httpRequest } from 'node:http';
import { APP_ENTRY, DIALECTS, freePort, startProcess, waitFor, waitUntilReady } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack, type TaskView } from './support/stack';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** POST with node:http: the answer counts even if the server closes the socket while we still write. */
function postRaw(url: string, body: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) } }, (response) => {
      answered = true;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    request.end(body);
  });
}

describe.each(DIALECTS)('security and tenancy on %s', (dialect) => {
  let stack: Stack;
  let acme: { id: string; key: string };
  let globex: { id: string; key: string };
  let readOnly: { id: string; key: string };

  const as = (key: string) => ({
    get: (path: string) => http(stack.apiUrl, 'GET', path, undefined, bearer(key)),
    post: (path: string, body: unknown = {}, headers: Record<string, string> = {}) => http(stack.apiUrl, 'POST', path, body, { ...bearer(key), ...headers }),
  });

  beforeAll(async () => {
    // A small body limit keeps the oversized request small enough to be sent whole before the
    // server answers 413 (a multi-megabyte one can see the socket closed mid-write: EPIPE).
    stack = await startStack({ dialect, env: { RATE_LIMIT_PER_MINUTE: '100000', JSON_BODY_LIMIT_BYTES: String(512 * 1024) } });
    const create = async (tenant: string, scopes: string[]) => (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant, scopes })).body;
    acme = await create('acme', ['tasks:read', 'tasks:write']);
    globex = await create('globex', ['tasks:read', 'tasks:write']);
    readOnly = await create('acme', ['tasks:read']);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses missing and invalid keys with 401 and the error body, but keeps probes and metrics open', async () => {
    const none = await http(stack.apiUrl, 'GET', '/v1/tasks', undefined, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    for (const authorization of ['Bearer cvk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Bearer nonsense', 'Basic abc', `Bearer ${TEST_ADMIN_KEY}x`]) {
      const response = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} }, { authorization });
      expect({ authorization, status: response.status }).toEqual({ authorization, status: 401 });
    }
    expect((await http(stack.apiUrl, 'GET', '/health/ready', undefined, { authorization: '' })).status).toBe(200);
    expect((await http(stack.apiUrl, 'GET', '/metrics', undefined, { authorization: '' })).status).toBe(200);
  });

  it('creates keys shown once, lists them without the secret, and revokes them at once', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'initech', scopes: ['tasks:read'], name: 'ci' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant: 'initech', scopes: ['tasks:read'], name: 'ci', prefix: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(created.body.key).toMatch(new RegExp(`^cvk_${created.body.prefix}_`));
    expect((await as(created.body.key).get('/v1/tasks')).status).toBe(200);

    const listed = (await http(stack.apiUrl, 'GET', '/v1/admin/keys')).body.keys;
    const entry = listed.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({ tenant: 'initech', prefix: created.body.prefix });
    expect(JSON.stringify(listed)).not.toContain(created.body.key);

    expect((await http(stack.apiUrl, 'DELETE', `/v1/admin/keys/${created.body.id}`)).status).toBe(204);
    expect((await as(created.body.key).get('/v1/tasks')).status).toBe(401);
    expect((await http(stack.apiUrl, 'DELETE', `/v1/admin/keys/${created.body.id}`)).status).toBe(404);
    const bad = await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'Bad Tenant', scopes: ['root'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['tenant', 'scopes']));
    // The system tenant (declared schedules, housekeeping runs) gets no key.
    const reserved = await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'system', scopes: ['tasks:read'] });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.code).toBe('TENANT_RESERVED');
  });

  it('answers 403 when a key lacks the scope', async () => {
    const write = await as(readOnly.key).post('/v1/tasks', { type: 'system.noop', payload: {} });
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe('FORBIDDEN');
    expect((await as(readOnly.key).get('/v1/tasks')).status).toBe(200);
    expect((await as(acme.key).get('/v1/admin/keys')).status).toBe(403);
    expect((await as(acme.key).post('/v1/admin/keys', { tenant: 'acme', scopes: ['admin'] })).status).toBe(403);
  });

  it("keeps every task route inside the caller's tenant (404, never 403)", async () => {
    const mine = (await as(acme.key).post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 1 }, maxAttempts: 1, tags: ['iso'] }))
      .body as TaskView;
    await waitForTerminal(stack.apiUrl, mine.id, 20_000, bearer(acme.key));
    const other = as(globex.key);
    expect((await other.get(`/v1/tasks/${mine.id}`)).status).toBe(404);
    expect((await other.get(`/v1/tasks/${mine.id}/events`)).status).toBe(404);
    expect((await other.post(`/v1/tasks/${mine.id}/cancel`)).status).toBe(404);
    expect((await other.post(`/v1/tasks/${mine.id}/retry`)).status).toBe(404);
    expect((await other.get('/v1/tasks?tag=iso')).body.tasks).toEqual([]);
    expect((await other.post('/v1/tasks/retry', { status: 'failed' })).body.retried).not.toContain(mine.id);
    expect((await as(acme.key).get(`/v1/tasks/${mine.id}`)).body.status).toBe('failed');
    expect((await as(acme.key).get('/v1/tasks?tag=iso')).body.tasks.map((t: TaskView) => t.id)).toEqual([mine.id]);
    // The bootstrap admin key belongs to tenant "default": it does not see acme's tasks either.
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${mine.id}`)).status).toBe(404);
  });

  it('keeps idempotency keys per tenant', async () => {
    const body = { type: 'system.noop', payload: {} };
    const a = await as(acme.key).post('/v1/tasks', body, { 'idempotency-key': 'shared-key' });
    const b = await as(globex.key).post('/v1/tasks', body, { 'idempotency-key': 'shared-key' });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('sends security headers, no CORS by default, refuses oversized bodies and payloads', async () => {
    const response = await as(acme.key).get('/v1/tasks?limit=1');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBeTruthy();
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const preflight = await fetch(`${stack.apiUrl}/v1/tasks`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();

    const huge = await postRaw(`${stack.apiUrl}/v1/tasks`, JSON.stringify({ type: 'system.noop', payload: {}, tags: ['x'.repeat(600 * 1024)] }), acme.key);
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    const bigPayload = await as(acme.key).post('/v1/tasks', { type: 'system.noop', payload: { blob: 'x'.repeat(300 * 1024) } });
    expect(bigPayload.status).toBe(413);
    expect(bigPayload.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    // Under the body limit but over system.noop's payload cap: refused by the task type's limit.
    expect(bigPayload.body.error.message).toMatch(/payload of system.noop may be at most/);
  });

  it('never writes keys or cookies to the logs', async () => {
    await as(acme.key).get('/v1/tasks');
    const url = '/v1/tasks?tag=log-check';
    await fetch(`${stack.apiUrl}${url}`, { headers: { ...bearer(acme.key), cookie: 'session=s3cr3t-cookie', 'x-api-key': 's3cr3t-header' } });
    const lineOf = () =>
      stack
        .api!.output()
        .split('\n')
        .find((l) => l.includes(`"url":"${url}"`));
    await waitFor(() => lineOf() !== undefined, { what: 'the request line' });
    const output = stack.api!.output();
    expect(output).not.toContain(acme.key);
    expect(output).not.toContain(TEST_ADMIN_KEY);
    expect(output).not.toContain('s3cr3t');
    // The request is still described; only the secrets are replaced.
    expect(JSON.parse(lineOf()!).req.headers).toMatchObject({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'x-api-key': '[redacted]',
      host: expect.any(String),
    });
  });
});

describe('rate limits and config hygiene', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { RATE_LIMIT_PER_MINUTE: '6' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('limits requests per key across API instances with 429 and Retry-After', async () => {
    const key = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'limited', scopes: ['tasks:read'] })).body.key as string;
    const port = await freePort();
    const second = startProcess(APP_ENTRY.api, { ...stack.env, PORT: String(port) });
    try {
      await waitUntilReady(second, `http://127.0.0.1:${port}/health/ready`);
      const bases = [stack.apiUrl, `http://127.0.0.1:${port}`];
      const statuses: number[] = [];
      let limited: Awaited<ReturnType<typeof http>> | undefined;
      for (let i = 0; i < 8; i += 1) {
        const response = await http(bases[i % 2], 'GET', '/v1/tasks', undefined, bearer(key));
        statuses.push(response.status);
        if (response.status === 429) limited ??= response;
      }
      expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(statuses.slice(6)).toEqual([429, 429]);
      expect(limited!.body.error.code).toBe('RATE_LIMITED');
      expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await second.stop();
    }
  });

  it('creates a working key from the command line (npm run keys)', async () => {
    const cli = startProcess(APP_ENTRY.migrate.replace('migrate.js', 'keys.js'), stack.env, ['create', '--tenant', 'cli', '--scopes', 'tasks:read']);
    expect((await cli.exited).code).toBe(0);
    const created = JSON.parse(cli.output().slice(cli.output().indexOf('{'), cli.output().lastIndexOf('}') + 1));
    expect(created).toMatchObject({ tenant: 'cli', scopes: ['tasks:read'] });
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks', undefined, bearer(created.key))).status).toBe(200);
  });

  it('refuses a weak admin key in production mode', async () => {
    const api = startProcess(APP_ENTRY.api, {
      ...stack.env,
      NODE_ENV: 'production',
      CONVEYOR_ADMIN_KEY: 'change-me-change-me-change-me-123',
      PORT: String(await freePort()),
    });
    expect((await api.exited).code).toBe(1);
    expect(api.output()).toMatch(/CONVEYOR_ADMIN_KEY: too weak for production/);
  });
});
