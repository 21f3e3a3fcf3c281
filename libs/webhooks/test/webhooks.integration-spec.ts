import { getQueueToken } from '@nestjs/bullmq';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Queue } from 'bullmq';
import { register } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { DataSource, type Repository } from 'typeorm';
import { runMigrations } from '@conveyor/database';
import { SYSTEM_TASK_TYPES } from '@conveyor/system-tasks';
import {
  TASK_TRANSITION_HOOKS,
  TaskContractsModule,
  TaskEntity,
  TaskFactory,
  TaskLedgerService,
  TasksCoreModule,
  type TaskRequest,
  type TaskTransitionHooks,
} from '@conveyor/tasks';
import { TaskStateWriter } from '@conveyor/tasks/worker';
import {
  RETRY_SCHEDULE_MS,
  SubscriptionCache,
  WEBHOOK_CLOCK,
  WEBHOOK_RESOLVER,
  WebhookAttemptEntity,
  WebhookDeliveriesService,
  WebhookDeliveryEntity,
  WebhookEndpointsService,
  WebhookEventEntity,
  WebhookEndpointEntity,
  WEBHOOKS_QUEUE,
  type Resolver,
} from '@conveyor/webhooks';
import { DeliveryDispatcher, WebhookRetention, WebhooksWorkerModule } from '@conveyor/webhooks/worker';
import { uuidv7 } from 'uuidv7';
import { deliveryRow, eventId, eventRow } from '../src/events/outbox-rows';
import { AttemptLog } from '../src/worker/attempt-log';
import {
  createTestDatabase,
  deleteRedisPrefix,
  DIALECTS,
  TEST_REDIS_URL,
  TestReceiver,
  uniqueName,
  waitFor,
  type Answer,
  type TestDatabase,
  localWebhookEnv,
} from '@conveyor/testing';

const ACTIVATION_MS = 1000;
const TIMEOUT_MS = 3000;
/** Longer than a whole round of the schedule (~27.6 h), so only the auto-disable test reaches it. */
const DISABLE_AFTER_MS = 2 * 86_400_000;
const GRACE_MS = 600_000;

/**
 * Webhooks on real Redis and a real database, both dialects: the outbox written by the ledger
 * writer's transaction (exactly once per transition), deliveries to real HTTP receivers whose
 * signatures the independent standardwebhooks library verifies, the retry schedule on an
 * injected clock, timeouts, redirects, rotation, auto-disable, redelivery, the SSRF guard at
 * delivery time (a rebinding resolver), the per-endpoint concurrency limit, and a Redis that
 * lost the delivery jobs.
 */
describe.each(DIALECTS)('webhooks on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let writer: TaskStateWriter;
  let endpoints: WebhookEndpointsService;
  let deliveriesService: WebhookDeliveriesService;
  let dispatcher: DeliveryDispatcher;
  let cache: SubscriptionCache;
  let dataSource: DataSource;
  let deliveries: Repository<WebhookDeliveryEntity>;
  let events: Repository<WebhookEventEntity>;
  const receivers: TestReceiver[] = [];
  const clock = { t: Date.parse('2026-03-01T10:00:00Z'), now: () => clock.t };
  /** Names the test's DNS knows; `rebind.test` answers differently from the second lookup on. */
  const dns: Record<string, string[]> = {};
  let rebindLookups = 0;
  const resolver: Resolver = async (hostname) => {
    if (hostname === 'rebind.test') return [{ address: rebindLookups++ === 0 ? '127.0.0.1' : '10.0.0.7', family: 4 }];
    return (dns[hostname] ?? []).map((address) => ({ address, family: 4 }));
  };
  const savedEnv = { ...process.env };

  const receiver = async (answer?: Answer) => {
    const r = await new TestReceiver(answer).start();
    receivers.push(r);
    return r;
  };

  /** Makes a ledger task of `tenant` as the API would. */
  const task = async (tenant: string, request: Partial<TaskRequest> = {}): Promise<TaskEntity> => {
    const [prepared] = await app.get(TaskFactory).prepare(tenant, [{ type: 'system.noop', payload: {}, ...request }]);
    await app.get(TaskLedgerService).insert([prepared.row]);
    return prepared.row;
  };

  const endpoint = async (tenant: string, url: string, events: string[] = ['task.*'], extra: Record<string, unknown> = {}) => {
    const { endpoint: row, secret } = await endpoints.create(tenant, { url, events, ...extra });
    // Past its activation; the cache of this process was refreshed by the create itself.
    clock.t += ACTIVATION_MS + 1;
    return { ...row, secret };
  };

  const deliveriesOf = (endpointId: string) => deliveries.find({ where: { endpointId }, order: { id: 'ASC' } });
  const attemptsOf = (deliveryId: string) => dataSource.getRepository(WebhookAttemptEntity).find({ where: { deliveryId }, order: { attempt: 'ASC' } });

  /** Dispatches until `delivery` has made `attempts` attempts (the worker's consumer runs them). */
  const attemptsReach = async (deliveryId: string, attempts: number) =>
    waitFor(
      async () => {
        await dispatcher.dispatchOnce();
        const row = await deliveries.findOneByOrFail({ id: deliveryId });
        return row.attempts >= attempts && row.claim === null ? row : undefined;
      },
      { what: `delivery ${deliveryId} to reach ${attempts} attempts`, timeoutMs: 20_000, intervalMs: 25 },
    );

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    prefix = uniqueName('it_hooks');
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ...localWebhookEnv(ACTIVATION_MS),
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_DISABLE_AFTER_MS: String(DISABLE_AFTER_MS),
      WEBHOOK_SECRET_GRACE_MS: String(GRACE_MS),
      WEBHOOK_ENDPOINT_CONCURRENCY: '2',
      // Secrets sealed at rest (webhook-events.integration-spec runs without a key: plain, as in development).
      WEBHOOK_SECRET_KEY: Buffer.alloc(32, 3).toString('base64'),
      // The test dispatches itself (dispatchOnce); the worker's own loop stays out of the way.
      WEBHOOK_POLL_INTERVAL_MS: '60000',
    });
    app = await Test.createTestingModule({
      imports: [TasksCoreModule, TaskContractsModule.forFeature([...SYSTEM_TASK_TYPES]), WebhooksWorkerModule],
      providers: [TaskStateWriter],
    })
      .overrideProvider(WEBHOOK_CLOCK)
      .useValue(clock)
      .overrideProvider(WEBHOOK_RESOLVER)
      .useValue(resolver)
      .compile();
    await app.init();
    writer = app.get(TaskStateWriter);
    endpoints = app.get(WebhookEndpointsService);
    deliveriesService = app.get(WebhookDeliveriesService);
    dispatcher = app.get(DeliveryDispatcher);
    cache = app.get(SubscriptionCache);
    dataSource = app.get(DataSource);
    deliveries = dataSource.getRepository(WebhookDeliveryEntity);
    events = dataSource.getRepository(WebhookEventEntity);
  });

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await app?.close();
    register.clear();
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('writes one event per transition in the transaction of the state change, and none for a re-run, another tenant or a filtered task', async () => {
    const tenant = uniqueName('t');
    const hook = await endpoint(tenant, (await receiver()).url(), ['task.completed', 'task.retrying'], {
      filter: { taskTypes: ['system.noop'], tags: ['eu'] },
    });
    const wanted = await task(tenant, { tags: ['eu'] });
    const untagged = await task(tenant, { tags: ['us'] });
    const otherType = await task(tenant, { type: 'system.sleep', payload: { ms: 1 }, tags: ['eu'] });
    const other = await task(uniqueName('other'));
    const subject = { subject: { tenantId: tenant, type: 'system.noop', flowRoot: false, callback: false } };

    await writer.write(wanted.id, { status: 'retrying', attempts: 1, error: { code: 'X', message: 'x' } }, subject);
    await writer.write(wanted.id, { status: 'active', attempts: 2 }, subject);
    await writer.write(wanted.id, { status: 'completed', result: { n: 1 }, finishedAt: new Date() }, subject);
    // The worker died after that commit: the job runs again (attempt 3) and completes again.
    await writer.write(wanted.id, { status: 'active', attempts: 3 }, subject);
    await writer.write(wanted.id, { status: 'completed', result: { n: 1 }, finishedAt: new Date() }, subject);
    await writer.write(untagged.id, { status: 'completed', finishedAt: new Date() }, subject);
    await writer.write(
      otherType.id,
      { status: 'completed', finishedAt: new Date() },
      { subject: { tenantId: tenant, type: 'system.sleep', flowRoot: false, callback: false } },
    );
    await writer.write(
      other.id,
      { status: 'completed', finishedAt: new Date() },
      { subject: { tenantId: other.tenantId, type: 'system.noop', flowRoot: false, callback: false } },
    );

    const written = await events.find({ where: { tenantId: tenant }, order: { type: 'ASC' } });
    expect(written.map((e) => [e.type, e.taskId])).toEqual([
      ['task.completed', wanted.id],
      ['task.retrying', wanted.id],
    ]);
    const body = JSON.parse(written[0].body);
    expect(body).toMatchObject({
      id: written[0].id,
      type: 'task.completed',
      data: { task: { id: wanted.id, status: 'completed', result: { n: 1 }, tags: ['eu'] } },
    });
    expect((await deliveriesOf(hook.id)).map((d) => d.eventType).sort()).toEqual(['task.completed', 'task.retrying']);
    expect(await events.countBy({ tenantId: other.tenantId })).toBe(0);
  });

  it('writes no event for a completion the ledger did not take (the task was cancelled meanwhile)', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, (await receiver()).url());
    const cancelled = await task(tenant);
    await app.get(TaskLedgerService).transition(tenant, cancelled.id, ['queued'], { status: 'cancelled', finishedAt: new Date() });
    await writer.write(
      cancelled.id,
      { status: 'completed', finishedAt: new Date() },
      { subject: { tenantId: tenant, type: 'system.noop', flowRoot: false, callback: false } },
    );
    expect(await events.countBy({ taskId: cancelled.id })).toBe(0);
    expect((await dataSource.getRepository(TaskEntity).findOneByOrFail({ id: cancelled.id })).status).toBe('cancelled');
  });

  it('opens no transaction and writes nothing when no endpoint of the tenant subscribes', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, (await receiver()).url(), ['task.failed']);
    const quiet = await task(tenant);
    const spy = jest.spyOn(dataSource, 'transaction');
    try {
      await writer.write(
        quiet.id,
        { status: 'completed', finishedAt: new Date() },
        { subject: { tenantId: tenant, type: 'system.noop', flowRoot: false, callback: false } },
      );
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(await events.countBy({ taskId: quiet.id })).toBe(0);
  });

  it('delivers a signed event the standardwebhooks library verifies, and logs the attempt', async () => {
    const tenant = uniqueName('t');
    const r = await receiver((_n, _req, res) => void res.writeHead(204).end());
    const hook = await endpoint(tenant, r.url('/in?x=1'));
    const done = await task(tenant);
    await writer.write(
      done.id,
      { status: 'completed', result: { rows: 3 }, finishedAt: new Date() },
      { subject: { tenantId: tenant, type: 'system.noop', flowRoot: false, callback: false } },
    );
    const [delivery] = await deliveriesOf(hook.id);
    expect((await attemptsReach(delivery.id, 1)).status).toBe('succeeded');

    expect(r.received).toHaveLength(1);
    const [{ headers, body, path }] = r.received;
    expect(path).toBe('/in?x=1');
    const verified = new Webhook(hook.secret).verify(body, headers as Record<string, string>) as { id: string; type: string; data: { task: { id: string } } };
    expect(verified).toMatchObject({ id: delivery.eventId, type: 'task.completed', data: { task: { id: done.id } } });
    expect(headers['webhook-id']).toBe(delivery.eventId);
    const { attempts } = await deliveriesService.get(tenant, delivery.id);
    expect(attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 204, error: null })]);
  });

  it('retries on the schedule (clock-driven) while the receiver is down, then succeeds with the same event id', async () => {
    const tenant = uniqueName('t');
    const r = await receiver((n, _req, res) => void res.writeHead(n <= 3 ? 503 : 200).end(n <= 3 ? 'down' : 'ok'));
    const hook = await endpoint(tenant, r.url());
    const ping = await endpoints.sendTest(tenant, hook.id);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const row = await attemptsReach(ping.id, attempt);
      expect(row.status).toBe('pending');
      const wait = row.nextAttemptAt!.getTime() - clock.t;
      // The wait before attempt n+1 is the schedule's, give or take the jitter.
      expect(wait).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[attempt] * 0.8);
      expect(wait).toBeLessThanOrEqual(RETRY_SCHEDULE_MS[attempt] * 1.2);
      // Not due yet: nothing is sent before the clock gets there.
      expect(await dispatcher.dispatchOnce()).toBe(0);
      clock.t = row.nextAttemptAt!.getTime();
    }
    expect((await attemptsReach(ping.id, 4)).status).toBe('succeeded');
    expect(new Set(r.received.map((q) => q.headers['webhook-id']))).toEqual(new Set([ping.eventId]));
    const log = await attemptsOf(ping.id);
    expect(log.map((a) => [a.statusCode, a.responseExcerpt])).toEqual([
      [503, 'down'],
      [503, 'down'],
      [503, 'down'],
      [200, 'ok'],
    ]);
    expect((await dataSource.getRepository(WebhookEndpointEntity).findOneByOrFail({ id: hook.id })).failingSince).toBeNull();
  });

  it('fails an attempt for a hang past the timeout and for a redirect (never followed), and caps the stored response', async () => {
    const tenant = uniqueName('t');
    const target = await receiver();
    const r = await receiver((n, _req, res) => {
      if (n === 1) return; // hangs: never answers
      if (n === 2) return void res.writeHead(302, { location: target.url() }).end();
      return void res.writeHead(500).end('x'.repeat(100_000));
    });
    const hook = await endpoint(tenant, r.url());
    const ping = await endpoints.sendTest(tenant, hook.id);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const row = await attemptsReach(ping.id, attempt);
      clock.t = row.nextAttemptAt!.getTime();
    }
    const log = await attemptsOf(ping.id);
    expect(log[0]).toMatchObject({ statusCode: null, error: `no answer within ${TIMEOUT_MS} ms` });
    expect(log[1]).toMatchObject({ statusCode: 302, error: 'redirect (302) not followed' });
    expect(log[2]).toMatchObject({ statusCode: 500, error: 'status 500' });
    expect(log[2].responseExcerpt).toHaveLength(4096);
    expect(target.received).toHaveLength(0);
  });

  it('gives up after the last step of the schedule, and a redelivery starts a new round', async () => {
    const tenant = uniqueName('t');
    let up = false;
    const r = await receiver((_n, _req, res) => void res.writeHead(up ? 200 : 500).end());
    const hook = await endpoint(tenant, r.url());
    const ping = await endpoints.sendTest(tenant, hook.id);
    for (let attempt = 1; attempt < RETRY_SCHEDULE_MS.length; attempt++) clock.t = (await attemptsReach(ping.id, attempt)).nextAttemptAt!.getTime();
    const failed = await attemptsReach(ping.id, RETRY_SCHEDULE_MS.length);
    expect(failed).toMatchObject({ status: 'failed', nextAttemptAt: null, attempts: 8 });
    expect(await dispatcher.dispatchOnce()).toBe(0);

    up = true;
    await expect(deliveriesService.redeliver(uniqueName('other'), ping.id)).rejects.toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    expect((await deliveriesService.redeliver(tenant, ping.id)).status).toBe('pending');
    await expect(deliveriesService.redeliver(tenant, ping.id)).rejects.toMatchObject({ code: 'WEBHOOK_DELIVERY_PENDING' });
    expect(await attemptsReach(ping.id, 9)).toMatchObject({ status: 'succeeded', attempts: 9 });
    expect(r.received).toHaveLength(9);
  });

  it('signs with both secrets during a rotation’s grace period, then with the new one only', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    const hook = await endpoint(tenant, r.url());
    const rotated = await endpoints.rotateSecret(tenant, hook.id);
    expect(rotated.secret).not.toBe(hook.secret);
    await attemptsReach((await endpoints.sendTest(tenant, hook.id)).id, 1);
    const during = r.received[0];
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(new Webhook(hook.secret).verify(during.body, during.headers as Record<string, string>)).toBeTruthy();
    expect(new Webhook(rotated.secret).verify(during.body, during.headers as Record<string, string>)).toBeTruthy();

    clock.t += GRACE_MS + 1;
    await attemptsReach((await endpoints.sendTest(tenant, hook.id)).id, 1);
    const after = r.received[1];
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(new Webhook(rotated.secret).verify(after.body, after.headers as Record<string, string>)).toBeTruthy();
    expect(() => new Webhook(hook.secret).verify(after.body, after.headers as Record<string, string>)).toThrow();
  });

  it('disables an endpoint whose every delivery failed for WEBHOOK_DISABLE_AFTER_MS, saying why; re-enabling clears it', async () => {
    const tenant = uniqueName('t');
    const r = await receiver((_n, _req, res) => void res.writeHead(500).end());
    const hook = await endpoint(tenant, r.url());
    const first = await endpoints.sendTest(tenant, hook.id);
    await attemptsReach(first.id, 1);
    const failing = await endpoints.get(tenant, hook.id);
    expect(failing.failingSince).not.toBeNull();
    expect(failing.enabled).toBe(true);

    clock.t += DISABLE_AFTER_MS + 1;
    await attemptsReach(first.id, 2);
    const disabled = await endpoints.get(tenant, hook.id);
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabledReason).toMatch(/^endpoint\.disabled: every delivery failed since .*status 500/);
    // Its next attempt finds the endpoint disabled and ends without a request.
    clock.t += 86_400_000;
    const ended = await waitFor(
      async () => {
        await dispatcher.dispatchOnce();
        const row = await deliveries.findOneByOrFail({ id: first.id });
        return row.status === 'failed' ? row : undefined;
      },
      { what: 'the pending delivery to end' },
    );
    expect(ended.lastError).toBe('the endpoint is disabled');
    expect(r.received).toHaveLength(2);
    await expect(endpoints.sendTest(tenant, hook.id)).rejects.toMatchObject({ code: 'WEBHOOK_ENDPOINT_DISABLED' });

    const enabled = await endpoints.update(tenant, hook.id, { enabled: true });
    expect(enabled).toMatchObject({ enabled: true, failingSince: null, disabledReason: null });
  });

  it('checks the URL again at every delivery and connects to the address it checked (rebinding fails)', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    // A name only the test's resolver knows: the request can only have gone to the address it answered.
    dns['hooks.test'] = ['127.0.0.1'];
    const named = await endpoint(tenant, `http://hooks.test:${r.port}/named`);
    await attemptsReach((await endpoints.sendTest(tenant, named.id)).id, 1);
    expect(r.received.map((q) => [q.path, q.headers.host])).toEqual([['/named', `hooks.test:${r.port}`]]);

    rebindLookups = 0;
    const rebinding = await endpoint(tenant, `http://rebind.test:${r.port}/rebind`);
    const ping = await endpoints.sendTest(tenant, rebinding.id);
    await attemptsReach(ping.id, 1);
    const [attempt] = await attemptsOf(ping.id);
    expect(attempt).toMatchObject({ statusCode: null, error: expect.stringMatching(/^WEBHOOK_URL_FORBIDDEN: rebind\.test resolves to 10\.0\.0\.7/) });
    expect(r.received).toHaveLength(1);
  });

  it('reuses a kept-alive connection for the next delivery, and sends again on a fresh one when the receiver dropped it', async () => {
    const tenant = uniqueName('t');
    // Answers two requests, then drops the connection the third arrives on without answering (a
    // receiver that closed an idle connection just as it was reused).
    const perSocket = new Map<Socket, number>();
    const received: string[] = [];
    const server = createServer((request, response) => {
      const n = (perSocket.get(request.socket) ?? 0) + 1;
      perSocket.set(request.socket, n);
      if (received.length >= 2 && n > 1) return void request.socket.destroy();
      request.resume().on('end', () => {
        received.push(String(request.headers['webhook-id']));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const hook = await endpoint(tenant, `http://127.0.0.1:${port}/keep`);
      const pings = [];
      for (let i = 0; i < 3; i++) {
        const ping = await endpoints.sendTest(tenant, hook.id);
        expect((await attemptsReach(ping.id, 1)).status).toBe('succeeded');
        pings.push(ping);
      }
      // The second ping reused the first one's connection; the third found it dropped and went
      // out again on a new connection, within the same attempt.
      expect(received).toEqual(pings.map((p) => p.eventId));
      expect([...perSocket.values()]).toEqual([3, 1]);
      expect((await attemptsOf(pings[2].id)).map((a) => [a.statusCode, a.error])).toEqual([[200, null]]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses forbidden URLs at registration with WEBHOOK_URL_FORBIDDEN', async () => {
    const tenant = uniqueName('t');
    dns['inward.test'] = ['169.254.169.254'];
    for (const url of ['http://10.0.0.1/x', 'http://[::ffff:10.0.0.1]/x', 'http://inward.test/x', 'http://user:pw@127.0.0.1/x', 'http://nowhere.test/x']) {
      await expect(endpoints.create(tenant, { url, events: ['task.*'] })).rejects.toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
    }
    await expect(endpoints.create(tenant, { url: 'http://127.0.0.1:9/x', events: ['task.done'] })).rejects.toMatchObject({ code: 'UNKNOWN_EVENT_TYPE' });
    expect(await dataSource.getRepository(WebhookEndpointEntity).countBy({ tenantId: tenant })).toBe(0);
  });

  it('holds a slow receiver to the per-endpoint limit while another endpoint’s deliveries go through', async () => {
    const tenant = uniqueName('t');
    const release: Array<() => void> = [];
    const slow = await receiver((_n, _req, res) => void release.push(() => res.writeHead(200).end()));
    const fast = await receiver();
    const slowHook = await endpoint(tenant, slow.url());
    const fastHook = await endpoint(tenant, fast.url());
    const slowPings = await Promise.all(Array.from({ length: 6 }, () => endpoints.sendTest(tenant, slowHook.id)));
    const fastPings = await Promise.all(Array.from({ length: 6 }, () => endpoints.sendTest(tenant, fastHook.id)));
    await dispatcher.dispatchOnce();
    // Every fast delivery succeeds while the slow receiver still holds its first requests.
    await waitFor(async () => (await deliveries.countBy({ endpointId: fastHook.id, status: 'succeeded' })) === fastPings.length, {
      what: 'the fast deliveries',
    });
    expect(slow.maxInFlight).toBe(2);
    expect(await deliveries.countBy({ endpointId: slowHook.id, status: 'succeeded' })).toBe(0);
    // Let the slow receiver answer; the rest follow, never more than two at once.
    await waitFor(
      async () => {
        release.splice(0).forEach((answer) => answer());
        return (await deliveries.countBy({ endpointId: slowHook.id, status: 'succeeded' })) === slowPings.length;
      },
      { what: 'the slow deliveries' },
    );
    expect(slow.maxInFlight).toBe(2);
  });

  it('delivers what Redis lost: a claimed delivery whose job vanished is due again after its lease', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    const hook = await endpoint(tenant, r.url());
    const queue = app.get<Queue>(getQueueToken(WEBHOOKS_QUEUE));
    await queue.pause();
    try {
      const ping = await endpoints.sendTest(tenant, hook.id);
      expect(await dispatcher.dispatchOnce()).toBe(1);
      await queue.obliterate({ force: true });
      expect(await dispatcher.dispatchOnce()).toBe(0);
      clock.t += dispatcher.leaseMs + 1;
      await queue.resume();
      expect((await attemptsReach(ping.id, 1)).status).toBe('succeeded');
      expect(r.received).toHaveLength(1);
    } finally {
      await queue.resume();
    }
  });

  it('claims due deliveries without waiting for one still being written, and hands each to one claim only', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    const hook = await endpoint(tenant, r.url());
    const queue = app.get<Queue>(getQueueToken(WEBHOOKS_QUEUE));
    await queue.pause();
    const held = dataSource.createQueryRunner();
    try {
      const pings = await Promise.all(Array.from({ length: 30 }, () => endpoints.sendTest(tenant, hook.id)));
      // A delivery inserted, due, and not committed yet: the claims skip it instead of waiting for it.
      await held.startTransaction();
      const event = eventRow({ id: eventId(`held:${uniqueName('e')}`), tenantId: tenant, type: 'ping', taskId: null, at: new Date(clock.t), data: {} });
      const late = deliveryRow(event, hook.id, new Date(clock.t));
      await held.manager.insert(WebhookEventEntity, event);
      await held.manager.insert(WebhookDeliveryEntity, late);
      // Two claims at once share the committed ones out, none twice.
      const counts = await Promise.all([dispatcher.dispatchOnce(), dispatcher.dispatchOnce()]);
      expect(counts[0] + counts[1]).toBe(pings.length);
      const claimed = await deliveries.findBy({ endpointId: hook.id });
      expect(
        claimed
          .filter((d) => d.claim !== null)
          .map((d) => d.id)
          .sort(),
      ).toEqual(pings.map((p) => p.id).sort());
      expect(await queue.getJobCountByTypes('waiting', 'prioritized')).toBe(pings.length);
      await held.commitTransaction();
      expect(await dispatcher.dispatchOnce()).toBe(1);
      await queue.resume();
      for (const d of [...pings, late]) expect((await attemptsReach(d.id, 1)).status).toBe('succeeded');
      expect(r.received).toHaveLength(pings.length + 1);
    } finally {
      if (held.isTransactionActive) await held.rollbackTransaction();
      await held.release();
      await queue.resume();
    }
  });

  it('writes a batch of attempt outcomes in one transaction, each only where its claim still holds', async () => {
    const tenant = uniqueName('t');
    const hook = await endpoint(tenant, (await receiver()).url());
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => endpoints.sendTest(tenant, hook.id)));
    await deliveries.update({ endpointId: hook.id }, { claim: '0b7f9c3e-5d1a-4c1e-9f6a-2d3b4c5d6e7f' });
    const now = new Date(clock.t);
    const record = (deliveryId: string, claim: string, status: 'succeeded' | 'pending', code: number | null) => ({
      attempt: Object.assign(new WebhookAttemptEntity(), {
        id: uuidv7(),
        deliveryId,
        attempt: 1,
        startedAt: now,
        statusCode: code,
        latencyMs: 5,
        error: code === 200 ? null : 'HTTP 500',
        responseExcerpt: null,
      }),
      claim,
      endpointId: hook.id,
      delivery: {
        status,
        attempts: 1,
        step: 1,
        nextAttemptAt: status === 'pending' ? new Date(clock.t + 5000) : null,
        lastStatusCode: code,
        lastError: code === 200 ? null : 'HTTP 500',
        updatedAt: now,
      },
    });
    const log = app.get(AttemptLog);
    // Written in the same turn: one group commit. `c`'s claim is not its own (a redelivery took it over).
    await Promise.all([
      log.write(record(a.id, '0b7f9c3e-5d1a-4c1e-9f6a-2d3b4c5d6e7f', 'succeeded', 200)),
      log.write(record(b.id, '0b7f9c3e-5d1a-4c1e-9f6a-2d3b4c5d6e7f', 'pending', 500)),
      log.write(record(c.id, '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', 'succeeded', 200)),
    ]);
    const [ra, rb, rc] = await Promise.all([a, b, c].map((d) => deliveries.findOneByOrFail({ id: d.id })));
    expect(ra).toMatchObject({ status: 'succeeded', attempts: 1, step: 1, claim: null, nextAttemptAt: null, lastStatusCode: 200, lastError: null });
    expect(rb).toMatchObject({
      status: 'pending',
      attempts: 1,
      step: 1,
      claim: null,
      nextAttemptAt: new Date(clock.t + 5000),
      lastStatusCode: 500,
      lastError: 'HTTP 500',
    });
    expect(rc).toMatchObject({ status: 'pending', attempts: 0, step: 0, claim: '0b7f9c3e-5d1a-4c1e-9f6a-2d3b4c5d6e7f', lastStatusCode: null });
    expect(await attemptsOf(a.id)).toHaveLength(1);
    // Out of the later tests' way: nothing of these is due again.
    await deliveries.update({ endpointId: hook.id, status: 'pending' }, { status: 'failed', nextAttemptAt: null, claim: null });
  });

  it('writes the outbox of a cancel by the API in the same transaction, once', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, (await receiver()).url(), ['task.cancelled']);
    const waiting = await task(tenant);
    await cache.refresh();
    const recorder = app.get<TaskTransitionHooks>(TASK_TRANSITION_HOOKS);
    await dataSource.transaction(async (manager) => {
      await app.get(TaskLedgerService).transition(tenant, waiting.id, ['queued'], { status: 'cancelled', finishedAt: new Date() }, manager);
      await recorder.record(manager, [{ taskId: waiting.id, status: 'cancelled', tenantId: tenant, type: 'system.noop' }]);
    });
    // A worker that was running it writes `cancelled` too: same transition, no second event.
    await writer.write(
      waiting.id,
      { status: 'cancelled', finishedAt: new Date() },
      { subject: { tenantId: tenant, type: 'system.noop', flowRoot: false, callback: false } },
    );
    expect((await events.findBy({ taskId: waiting.id })).map((e) => e.type)).toEqual(['task.cancelled']);
  });

  it('purges finished deliveries, their attempts and orphaned events past the retention, never a pending one', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    const hook = await endpoint(tenant, r.url());
    const done = await endpoints.sendTest(tenant, hook.id);
    await attemptsReach(done.id, 1);
    const pending = await endpoints.sendTest(tenant, hook.id);
    const retention = app.get(WebhookRetention);
    // Not old enough yet (older rows of earlier tests may go).
    await retention.purgeOnce(new Date(clock.t - 60_000));
    expect(await deliveries.countBy({ id: done.id })).toBe(1);

    const report = await retention.purgeOnce(new Date(clock.t + 60_000));
    expect(report.deliveries).toBeGreaterThanOrEqual(1);
    expect(await deliveries.countBy({ id: done.id })).toBe(0);
    expect(await attemptsOf(done.id)).toEqual([]);
    expect(await events.countBy({ id: done.eventId })).toBe(0);
    // Still owed: the pending delivery and its event stay.
    expect(await deliveries.countBy({ id: pending.id })).toBe(1);
    expect(await events.countBy({ id: pending.eventId })).toBe(1);
  });
});
