import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { secretKeyId } from '@conveyor/webhooks';
import { APP_ENTRY, freePort, startProcess, TestReceiver, uniqueName, waitFor, waitUntilReady } from '@conveyor/testing';
import { http, startStack, TEST_WEBHOOK_SECRET_KEY, type Stack, localWebhookEnv } from './support/stack';

const ENDPOINTS = 150;
const NEW_KEY = randomBytes(32).toString('base64');
/** A production admin key must look random (config refuses weak ones there). */
const STRONG_ADMIN_KEY = randomBytes(32).toString('base64');

/**
 * The key that seals webhook secrets, through the built apps: a production process refuses to
 * start without the key its stored secrets need (none set, or only another key), and a key
 * rotation survives kill -9 of the worker in the middle of its reseal pass: every secret stays
 * readable (sealed under the old key or the new one), the next start finishes the pass, a
 * production process with only the new key then starts, and deliveries verify with the secret
 * shown at creation throughout.
 */
describe('webhook secret keys', () => {
  let stack: Stack;
  let receiver: TestReceiver;
  let db: DataSource;
  const call = (method: string, path: string, body?: unknown) => http(stack.apiUrl, method, path, body);
  const keyIds = async () =>
    (await db.query<Array<{ secret: string }>>('SELECT secret FROM webhook_endpoints')).map(({ secret }) => secret.split(':')[1] ?? 'plain');
  const count = (ids: string[], id: string) => ids.filter((x) => x === id).length;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    stack = await startStack({
      worker: false,
      env: {
        ...localWebhookEnv(),
      },
    });
    db = await new DataSource({ type: 'postgres', url: stack.database.url }).initialize();
  });

  afterAll(async () => {
    await db?.destroy();
    await stack?.stop();
    await receiver?.stop();
  });

  it('refuses to start in production without the key its stored secrets need, saying which', async () => {
    expect((await call('POST', '/v1/webhooks/endpoints', { url: receiver.url('/first'), events: ['task.*'] })).status).toBe(201);
    const production = { ...stack.env, NODE_ENV: 'production', CONVEYOR_ADMIN_KEY: STRONG_ADMIN_KEY };
    const keyless = startProcess(APP_ENTRY.api, { ...production, WEBHOOK_SECRET_KEY: '', PORT: String(await freePort()) });
    expect((await keyless.exited).code).toBe(1);
    expect(keyless.output()).toMatch(/WEBHOOK_SECRET_KEY is not set while 1 webhook secret\(s\) are stored/);
    const stranger = startProcess(APP_ENTRY.worker, { ...production, WEBHOOK_SECRET_KEY: NEW_KEY, WORKER_HEALTH_PORT: String(await freePort()) });
    expect((await stranger.exited).code).toBe(1);
    expect(stranger.output()).toContain(`sealed under key(s) ${secretKeyId(Buffer.from(TEST_WEBHOOK_SECRET_KEY, 'base64'))} that this process does not have`);
  });

  it('rotates the key across a worker killed mid-reseal: every secret stays readable, the next start finishes, deliveries verify', async () => {
    const [oldId, newId] = [TEST_WEBHOOK_SECRET_KEY, NEW_KEY].map((key) => secretKeyId(Buffer.from(key, 'base64')));
    const secrets = new Map<string, string>();
    for (let i = 0; secrets.size < ENDPOINTS - 1; i++) {
      const created = await call('POST', '/v1/webhooks/endpoints', { url: receiver.url(`/ep/${i}`), events: ['task.*'] });
      secrets.set(created.body.id, created.body.secret);
    }
    expect(count(await keyIds(), oldId)).toBe(ENDPOINTS);

    const rotated = { ...stack.env, WEBHOOK_SECRET_KEY: NEW_KEY, WEBHOOK_SECRET_KEYS_OLD: TEST_WEBHOOK_SECRET_KEY };
    const victim = startProcess(APP_ENTRY.worker, {
      ...rotated,
      WORKER_ID: uniqueName('victim'),
      WORKER_HEALTH_PORT: String(await freePort()),
      CONVEYOR_FAILPOINTS: 'webhook-reseal-mid-pass',
    });
    const died = await victim.exited;
    expect(died.signal).toBe('SIGKILL');
    // Cut off after its first batch: each row is under one key or the other, nothing in between.
    const midway = await keyIds();
    expect(count(midway, newId)).toBeGreaterThanOrEqual(100);
    expect(count(midway, oldId)).toBeGreaterThan(0);
    expect(count(midway, oldId) + count(midway, newId)).toBe(ENDPOINTS);

    const worker = startProcess(APP_ENTRY.worker, { ...rotated, WORKER_ID: uniqueName('worker'), WORKER_HEALTH_PORT: String(await freePort()) });
    try {
      await waitFor(async () => count(await keyIds(), newId) === ENDPOINTS, { what: 'every secret sealed under the new key', timeoutMs: 30_000 });
      const [endpointId, secret] = [...secrets][secrets.size - 1];
      const ping = await call('POST', `/v1/webhooks/endpoints/${endpointId}/test`);
      expect(ping.status).toBe(202);
      const received = await waitFor(() => receiver.received.find((r) => r.headers['webhook-id'] === ping.body.eventId), { what: 'the ping' });
      expect(new Webhook(secret).verify(received.body, received.headers as Record<string, string>)).toMatchObject({ type: 'ping' });

      // The old key can go now: a production process with the new one alone starts.
      const port = await freePort();
      const api = startProcess(APP_ENTRY.api, {
        ...stack.env,
        NODE_ENV: 'production',
        CONVEYOR_ADMIN_KEY: STRONG_ADMIN_KEY,
        WEBHOOK_SECRET_KEY: NEW_KEY,
        PORT: String(port),
      });
      try {
        await waitUntilReady(api, `http://127.0.0.1:${port}/health/ready`);
      } finally {
        await api.stop();
      }
    } finally {
      await worker.stop();
    }
  });
});
