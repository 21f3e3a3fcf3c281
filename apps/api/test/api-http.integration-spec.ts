import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { IN_PROCESS_ADMIN_KEY, localWebhookEnv, TEST_REDIS_URL, type InProcessApi } from '@conveyor/testing';
import { startApi } from './in-process-api';

const LIMIT = 5;
const unknownKey = (n: number) => `cvk_0000000${n}_${'A'.repeat(31)}${n}`;
const ENV = { AUTH_FAILURES_PER_MINUTE: String(LIMIT), AUTH_CACHE_TTL_MS: '1500', RATE_LIMIT_PER_MINUTE: '1000000' };

/** Database lookups of API keys that were not cached, as this app counted them. */
async function unknownKeyLookups(api: InProcessApi): Promise<number> {
  const { text } = await api.http().get('/metrics');
  return Number(/^conveyor_api_key_lookups_total\{result="unknown"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * Controller behaviour of the API over HTTP, in this process (supertest, real Redis and
 * PostgreSQL, no worker): validation errors and their codes, scopes and tenancy, queue
 * controls, schedules, webhook endpoints, health, a queue a deployment renamed (QUEUE_NAME),
 * and failed authentications limited per client address. supertest connects from loopback, as
 * a client or a proxy there would. What needs separate processes stays in the e2e tier. One
 * file, so the app's modules load once.
 */
describe('API controllers in process', () => {
  let api: InProcessApi;
  const call = async (method: string, path: string, body?: unknown, key?: string) => {
    const agent = key ? api.http().set('authorization', `Bearer ${key}`) : api.admin();
    const request = agent[method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete'](path);
    return body === undefined ? request : request.send(body as object);
  };
  const newKey = async (tenant: string, scopes: string[]) => (await call('POST', '/v1/admin/keys', { tenant, scopes })).body.key as string;
  const noop = { type: 'system.noop', payload: {} };

  beforeAll(async () => {
    api = await startApi({ ...ENV, ...localWebhookEnv(500), QUEUE_NAME: 'legacy-files' });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('answers the health probes without a key', async () => {
    expect((await api.http().get('/health/live')).status).toBe(200);
    const ready = await api.http().get('/health/ready');
    expect(ready.status).toBe(200);
  });

  describe('tasks', () => {
    it('refuses bad task requests with a code naming the field, and needs the scope', async () => {
      const unknown = await call('POST', '/v1/tasks', { type: 'no.such-type', payload: {} });
      expect({ status: unknown.status, code: unknown.body.error.code }).toEqual({ status: 400, code: 'UNKNOWN_TASK_TYPE' });
      const badPayload = await call('POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 'long' } });
      expect({ status: badPayload.status, code: badPayload.body.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      expect(badPayload.body.error.details.map((d: { field: string }) => d.field)).toContain('payload.ms');
      const extra = await call('POST', '/v1/tasks', { ...noop, nope: 1 });
      expect({ status: extra.status, code: extra.body.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      const notJson = await api.admin().post('/v1/tasks').set('content-type', 'application/json').send('{"type":');
      expect(notJson.status).toBe(400);
      expect(notJson.body.error.code).toEqual(expect.any(String));

      // (No key at all: see the failed authentications below, which count every one.)
      const reader = await newKey('default', ['tasks:read']);
      const forbidden = await call('POST', '/v1/tasks', noop, reader);
      expect({ status: forbidden.status, code: forbidden.body.error.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect((await call('GET', '/v1/tasks?limit=1', undefined, reader)).status).toBe(200);
      // Nothing was stored by the refusals.
      expect((await call('GET', '/v1/tasks?limit=10')).body.tasks).toEqual([]);
    });

    it("keeps a task inside its tenant: another tenant's key gets 404", async () => {
      const created = await call('POST', '/v1/tasks', noop);
      expect(created.status).toBe(202);
      const other = await newKey('globex', ['tasks:read', 'tasks:write']);
      expect((await call('GET', `/v1/tasks/${created.body.id}`, undefined, other)).status).toBe(404);
      expect((await call('GET', `/v1/tasks/${created.body.id}`)).body).toMatchObject({ id: created.body.id, type: 'system.noop', queue: 'system' });
    });
  });

  describe('a queue renamed by QUEUE_NAME', () => {
    it('runs the file types on the stored name: in the task types, the ledger and Redis', async () => {
      const types = (await call('GET', '/v1/task-types')).body.taskTypes as Array<{ type: string; queue: string }>;
      expect(types.filter((t) => t.type.startsWith('file.')).map((t) => [t.type, t.queue])).toEqual([
        ['file.checksum', 'legacy-files'],
        ['file.clean', 'legacy-files'],
      ]);
      const created = await call('POST', '/v1/tasks', { type: 'file.checksum', payload: { fileId: randomUUID() } });
      expect(created.status).toBe(202);
      expect((await call('GET', `/v1/tasks/${created.body.id}`)).body.queue).toBe('legacy-files');
      const stored = new Queue('legacy-files', { connection: { url: TEST_REDIS_URL }, prefix: api.prefix });
      const contractName = new Queue('file-processing', { connection: { url: TEST_REDIS_URL }, prefix: api.prefix });
      try {
        expect((await stored.getJob(created.body.id))?.name).toBe('file.checksum');
        expect(await contractName.getJob(created.body.id)).toBeUndefined();
      } finally {
        await Promise.all([stored.close(), contractName.close()]);
      }
      expect((await call('GET', '/v1/queues/legacy-files')).status).toBe(200);
      expect((await call('GET', '/v1/queues/file-processing')).body.error.code).toBe('QUEUE_NOT_FOUND');
    });
  });

  describe('queue controls', () => {
    it('refuses bad input with a code', async () => {
      for (const [method, path] of [
        ['GET', '/v1/queues/nosuch'],
        ['PATCH', '/v1/queues/nosuch'],
        ['POST', '/v1/queues/nosuch/pause'],
        ['POST', '/v1/queues/nosuch/resume'],
      ]) {
        const response = await call(method, path, method === 'PATCH' ? { concurrency: 2 } : undefined);
        expect([path, response.status, response.body.error?.code]).toEqual([path, 404, 'QUEUE_NOT_FOUND']);
      }
      for (const body of [
        { concurrency: 0 },
        { concurrency: 1001 },
        { concurrency: 1.5 },
        { rateLimit: { max: 0, durationMs: 1000 } },
        { rateLimit: { max: 5 } },
        {},
        { paused: true },
      ]) {
        const response = await call('PATCH', '/v1/queues/system', body);
        expect([body, response.status, response.body.error?.code]).toEqual([body, 400, 'VALIDATION_FAILED']);
      }
      // A tenant's key reads the queue but may not change it.
      const key = await newKey('acme', ['tasks:read', 'tasks:write']);
      expect((await call('GET', '/v1/queues/system', undefined, key)).status).toBe(200);
      for (const [method, path, body] of [
        ['PATCH', '/v1/queues/system', { concurrency: 2 }],
        ['POST', '/v1/queues/system/pause', undefined],
        ['POST', '/v1/queues/system/resume', undefined],
      ] as const) {
        const response = await call(method, path, body, key);
        expect([path, response.status, response.body.error.code]).toEqual([path, 403, 'FORBIDDEN']);
      }
      // Nothing half-written: the refused changes left the settings as they were.
      expect((await call('GET', '/v1/queues/system')).body.settings).toMatchObject({ concurrency: null, rateLimit: null });
    });
  });

  describe('schedules', () => {
    it("answers 404 for another tenant's schedule on every route, and needs the scopes", async () => {
      const { id } = (await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop })).body;
      const other = await newKey('globex', ['tasks:read', 'tasks:write']);
      const reader = await newKey('default', ['tasks:read']);
      for (const [method, path, body] of [
        ['GET', `/v1/schedules/${id}`],
        ['PATCH', `/v1/schedules/${id}`, { everyMs: 5000 }],
        ['DELETE', `/v1/schedules/${id}`],
        ['POST', `/v1/schedules/${id}/pause`, {}],
        ['POST', `/v1/schedules/${id}/resume`, {}],
        ['POST', `/v1/schedules/${id}/trigger`, {}],
      ] as Array<[string, string, unknown?]>) {
        const response = await call(method, path, body, other);
        expect({ method, path, status: response.status, code: response.body?.error?.code }).toEqual({ method, path, status: 404, code: 'SCHEDULE_NOT_FOUND' });
      }
      expect((await call('GET', '/v1/schedules', undefined, other)).body.schedules).toEqual([]);
      expect((await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop }, reader)).status).toBe(403);
      expect((await call('GET', `/v1/schedules/${id}`, undefined, reader)).status).toBe(200);
      expect((await call('GET', '/v1/schedules/not-a-uuid')).status).toBe(404);
    });

    it('refuses bad input with a clear code and stores nothing', async () => {
      const before = (await call('GET', '/v1/schedules?limit=200')).body.schedules.length;
      const cases: Array<[unknown, number, string, string?]> = [
        [{ cron: '61 * * * *', task: noop }, 400, 'INVALID_CRON', 'cron'],
        [{ cron: '* * * *', task: noop }, 400, 'INVALID_CRON', 'cron'],
        [{ cron: '0 3 * * *', timezone: 'Mars/Olympus', task: noop }, 400, 'INVALID_TIMEZONE', 'timezone'],
        [{ cron: '0 3 * * *', everyMs: 60_000, task: noop }, 400, 'VALIDATION_FAILED', 'cron'],
        [{ task: noop }, 400, 'VALIDATION_FAILED', 'cron'],
        [{ everyMs: 999, task: noop }, 400, 'SCHEDULE_TOO_FREQUENT', 'everyMs'],
        [{ everyMs: 60_000, task: { type: 'no.such-type', payload: {} } }, 400, 'UNKNOWN_TASK_TYPE', 'task.type'],
        [{ everyMs: 60_000, task: { type: 'system.sleep', payload: { ms: 'long' } } }, 400, 'VALIDATION_FAILED', 'task.payload.ms'],
        [{ everyMs: 60_000, task: noop, startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' }, 400, 'VALIDATION_FAILED', 'endAt'],
        [{ everyMs: 60_000, task: noop, overlap: 'sometimes' }, 400, 'VALIDATION_FAILED', 'overlap'],
        [{ everyMs: 60_000 }, 400, 'VALIDATION_FAILED', 'task'],
      ];
      for (const [body, status, code, field] of cases) {
        const response = await call('POST', '/v1/schedules', body);
        expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status, code });
        if (field) expect(response.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      }
      const { id } = (await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop })).body;
      const patched = await call('PATCH', `/v1/schedules/${id}`, { cron: 'nope' });
      expect(patched.body.error.code).toBe('INVALID_CRON');
      expect((await call('GET', `/v1/schedules/${id}`)).body).toMatchObject({ everyMs: 60_000, cron: null });
      expect((await call('GET', '/v1/schedules?limit=200')).body.schedules.length).toBe(before + 1);
    });
  });

  describe('webhook endpoints', () => {
    const hook = (path: string) => `http://127.0.0.1:9/${path}`;

    it('manages endpoints: secret shown once, SSRF and validation refusals, 404 across tenants, rotation', async () => {
      const refused = await call('POST', '/v1/webhooks/endpoints', { url: 'http://10.1.2.3/hook', events: ['task.*'] });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN', details: [{ field: 'url' }] });
      for (const url of ['http://169.254.169.254/latest', 'http://[::ffff:a9fe:a9fe]/', 'http://user:pw@127.0.0.1/', 'ftp://127.0.0.1/']) {
        expect((await call('POST', '/v1/webhooks/endpoints', { url, events: ['task.*'] })).body.error.code).toBe('WEBHOOK_URL_FORBIDDEN');
      }
      expect((await call('POST', '/v1/webhooks/endpoints', { url: hook('x'), events: ['task.done'] })).body.error.code).toBe('UNKNOWN_EVENT_TYPE');
      expect((await call('POST', '/v1/webhooks/endpoints', { url: hook('x'), events: [], extra: 1 })).body.error.code).toBe('VALIDATION_FAILED');

      const created = await call('POST', '/v1/webhooks/endpoints', { url: hook('crud'), events: ['task.failed'], description: 'ops' });
      expect(created.status).toBe(201);
      expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
      const id = created.body.id as string;
      const shown = await call('GET', `/v1/webhooks/endpoints/${id}`);
      expect(shown.status).toBe(200);
      expect(shown.body).not.toHaveProperty('secret');
      expect((await call('GET', '/v1/webhooks/endpoints')).body.endpoints.map((e: { id: string }) => e.id)).toContain(id);

      const other = await newKey('globex', ['tasks:read', 'tasks:write']);
      expect((await call('GET', `/v1/webhooks/endpoints/${id}`, undefined, other)).status).toBe(404);
      expect((await call('PATCH', `/v1/webhooks/endpoints/${id}`, { enabled: false }, other)).status).toBe(404);
      expect((await call('GET', `/v1/webhooks/endpoints/${id}/deliveries`, undefined, other)).status).toBe(404);
      expect((await call('DELETE', `/v1/webhooks/endpoints/${id}`, undefined, other)).status).toBe(404);

      const patched = await call('PATCH', `/v1/webhooks/endpoints/${id}`, { events: ['task.*'], filter: { taskTypes: ['system.noop'] } });
      expect(patched.body).toMatchObject({ events: ['task.*'], filter: { taskTypes: ['system.noop'] }, description: 'ops' });
      expect((await call('PATCH', `/v1/webhooks/endpoints/${id}`, { url: 'http://127.0.0.1.nip.invalid/' })).body.error.code).toBe('WEBHOOK_URL_FORBIDDEN');

      const rotated = await call('POST', `/v1/webhooks/endpoints/${id}/rotate-secret`);
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret).not.toBe(created.body.secret);
      expect(Date.parse(rotated.body.previousSecretValidUntil)).toBeGreaterThan(Date.now());

      expect((await call('DELETE', `/v1/webhooks/endpoints/${id}`)).status).toBe(204);
      expect((await call('GET', `/v1/webhooks/endpoints/${id}`)).status).toBe(404);
    });
  });

  // Last: it uses up this address's failure budget (keys that work still pass).
  describe('failed authentications per address', () => {
    it('answers 429 with Retry-After once an address is over the limit, before any key lookup, whatever X-Forwarded-For says', async () => {
      const lookups = await unknownKeyLookups(api);
      const spoofed = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i}` });
      const attempts = ['', 'Basic abc', `Bearer ${unknownKey(1)}`, `Bearer ${unknownKey(1)}`, `Bearer ${unknownKey(1)}`];
      for (const [i, authorization] of attempts.entries()) {
        const request = api.http().post('/v1/tasks').set(spoofed(i));
        const response = await (authorization ? request.set('authorization', authorization) : request).send({ type: 'system.noop', payload: {} });
        expect({ authorization, status: response.status, code: response.body.error.code }).toEqual({ authorization, status: 401, code: 'UNAUTHENTICATED' });
      }
      // The repeated unknown key was looked up once: the next two came from the negative cache.
      expect(await unknownKeyLookups(api)).toBe(lookups + 1);

      // The failure over the limit (still looked up: the address was not blocked yet) gets 429 …
      const over = await api
        .http()
        .get('/v1/tasks')
        .set({ authorization: `Bearer ${unknownKey(2)}`, ...spoofed(10) });
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('RATE_LIMITED');
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(await unknownKeyLookups(api)).toBe(lookups + 2);
      // … and from then on every new key from the address is refused without a lookup.
      for (const i of [3, 4, 5]) {
        const limited = await api
          .http()
          .get('/v1/tasks')
          .set({ authorization: `Bearer ${unknownKey(i)}`, ...spoofed(10 + i) });
        expect({ status: limited.status, code: limited.body.error.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect(await unknownKeyLookups(api)).toBe(lookups + 2);
      // A caller with a working key is not locked out by its neighbours' failures.
      expect((await api.admin().get('/v1/tasks?limit=1').set(spoofed(99))).status).toBe(200);
    });
  });
});

describe('failed authentications behind a trusted proxy', () => {
  let api: InProcessApi;
  const from = (address: string, authorization: string, path = '/v1/tasks') => api.http().get(path).set({ authorization, 'x-forwarded-for': address });

  beforeAll(async () => {
    api = await startApi({ ...ENV, TRUST_PROXY: '127.0.0.1' });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('counts the address a trusted proxy names, each on its own', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i += 1) statuses.push((await from('203.0.113.7', `Bearer ${unknownKey(5)}`)).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
    // Another client behind the same proxy is not blocked with it.
    expect((await from('203.0.113.8', `Bearer ${unknownKey(5)}`)).status).toBe(401);
  });

  it('looks an unknown key up again only after the short negative-cache TTL', async () => {
    const lookups = await unknownKeyLookups(api);
    const attempt = (address: string) => from(address, `Bearer ${unknownKey(6)}`);
    expect((await attempt('203.0.113.20')).status).toBe(401);
    expect((await attempt('203.0.113.21')).status).toBe(401);
    expect(await unknownKeyLookups(api)).toBe(lookups + 1);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect((await attempt('203.0.113.22')).status).toBe(401);
    expect(await unknownKeyLookups(api)).toBe(lookups + 2);
  });

  it('keeps the dashboard behind Basic auth, and counts its failures too', async () => {
    const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;
    expect((await api.http().get('/admin/queues').set('authorization', basic(IN_PROCESS_ADMIN_KEY))).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i += 1) statuses.push((await from('203.0.113.30', basic(unknownKey(7)), '/admin/queues')).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
  });
});
