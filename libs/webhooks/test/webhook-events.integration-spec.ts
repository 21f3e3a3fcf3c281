import { Test, type TestingModule } from '@nestjs/testing';
import { register } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { DataSource, type Repository } from 'typeorm';
import { runMigrations } from '@conveyor/database';
import { SYSTEM_TASK_TYPES } from '@conveyor/system-tasks';
import { TaskContractsModule, TaskEntity, TaskFactory, TaskLedgerService, TasksCoreModule, type FlowPolicy, type TaskRequest } from '@conveyor/tasks';
import { TaskStateWriter } from '@conveyor/tasks/worker';
import {
  CallbackEndpoints,
  callbackEndpointId,
  WEBHOOK_CLOCK,
  WEBHOOK_RESOLVER,
  WebhookDeliveryEntity,
  WebhookEndpointsService,
  WebhookEventEntity,
  type Resolver,
} from '@conveyor/webhooks';
import { DeliveryDispatcher, WebhooksWorkerModule } from '@conveyor/webhooks/worker';
import {
  createTestDatabase,
  deleteRedisPrefix,
  DIALECTS,
  taskRow,
  TEST_REDIS_URL,
  TestReceiver,
  uniqueName,
  waitFor,
  type TestDatabase,
  localWebhookEnv,
} from '@conveyor/testing';

const ACTIVATION_MS = 1000;

/**
 * The events beyond a task's own status, on both dialects: flow nodes the flow settler fails or
 * cancels (task.failed / task.cancelled written in the settling transaction, once),
 * `flow.completed` at a root's end with its node counts, a type's declared completion event
 * (`pipeline.completed` of `webhook.announce`), and per-task callbacks (SSRF guard at
 * acceptance, one delivery to the task's URL signed with the tenant's callback secret, which
 * the standardwebhooks library verifies; rotation signs with both).
 */
describe.each(DIALECTS)('webhook events on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let writer: TaskStateWriter;
  let endpoints: WebhookEndpointsService;
  let dispatcher: DeliveryDispatcher;
  let dataSource: DataSource;
  let deliveries: Repository<WebhookDeliveryEntity>;
  let events: Repository<WebhookEventEntity>;
  const receivers: TestReceiver[] = [];
  const clock = { t: Date.parse('2026-03-01T10:00:00Z'), now: () => clock.t };
  const resolver: Resolver = async (hostname) => (hostname === 'private.test' ? [{ address: '10.0.0.9', family: 4 }] : []);
  const savedEnv = { ...process.env };

  const receiver = async () => {
    const r = await new TestReceiver().start();
    receivers.push(r);
    return r;
  };
  const endpoint = async (tenant: string, url: string, events: string[]) => {
    const { endpoint: row, secret } = await endpoints.create(tenant, { url, events });
    clock.t += ACTIVATION_MS + 1;
    return { ...row, secret };
  };
  const eventsOf = (taskId: string) => events.find({ where: { taskId }, order: { type: 'ASC' } });
  const bodyOf = (event: WebhookEventEntity) => JSON.parse(event.body) as { type: string; data: Record<string, unknown> };
  /** Dispatches until every delivery of `taskId` has ended. */
  const delivered = (taskId: string) =>
    waitFor(
      async () => {
        await dispatcher.dispatchOnce();
        const rows = await deliveries.findBy({ taskId });
        return rows.length > 0 && rows.every((d) => d.status !== 'pending' && d.claim === null) ? rows : undefined;
      },
      { what: `the deliveries of ${taskId}`, timeoutMs: 20_000, intervalMs: 25 },
    );

  /** A flow stored as the API would: a `waiting` root and children with their edges, all `queued`. */
  const flow = async (tenant: string, policies: FlowPolicy[]) => {
    const ledger = app.get(TaskLedgerService);
    const rootId = taskRow().id;
    const root = taskRow({ id: rootId, tenantId: tenant, type: 'system.gather', status: 'waiting', rootId });
    const children = policies.map((onFailure) => taskRow({ tenantId: tenant, parentId: rootId, rootId, onFailure }));
    await ledger.insert([root, ...children]);
    return { root, children };
  };
  const subjectOf = (task: TaskEntity) => ({
    tenantId: task.tenantId,
    type: task.type,
    flowRoot: task.rootId === task.id,
    callback: task.callbackUrl !== null,
  });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    prefix = uniqueName('it_events');
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ...localWebhookEnv(ACTIVATION_MS),
      WEBHOOK_SECRET_GRACE_MS: '600000',
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
    dispatcher = app.get(DeliveryDispatcher);
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

  it('writes task.failed for a parent a child fails, task.cancelled for the siblings it cancels, and flow.completed once, in the settling transaction', async () => {
    const tenant = uniqueName('t');
    const hook = await endpoint(tenant, (await receiver()).url(), ['task.failed', 'task.cancelled', 'flow.completed']);
    const { root, children } = await flow(tenant, ['cancel-siblings', 'fail-parent', 'ignore']);
    const [culprit, sibling, other] = children;
    const options = { flowParent: { id: root.id, tenantId: tenant }, subject: subjectOf(culprit) };
    await writer.write(culprit.id, { status: 'failed', error: { code: 'BOOM', message: 'boom' }, finishedAt: new Date() }, options);
    // The worker died after that commit: the child's failure is written again and settles nothing new.
    await writer.write(culprit.id, { status: 'failed', error: { code: 'BOOM', message: 'boom' }, finishedAt: new Date() }, options);
    // The cancelled sibling's worker hears of it and records `cancelled` itself: no second event.
    await writer.write(sibling.id, { status: 'cancelled', finishedAt: new Date() }, { flowParent: options.flowParent, subject: subjectOf(sibling) });

    expect((await eventsOf(root.id)).map((e) => e.type)).toEqual(['flow.completed', 'task.failed']);
    expect((await eventsOf(sibling.id)).map((e) => e.type)).toEqual(['task.cancelled']);
    expect((await eventsOf(other.id)).map((e) => e.type)).toEqual(['task.cancelled']);
    expect((await eventsOf(culprit.id)).map((e) => e.type)).toEqual(['task.failed']);
    const [completed, failed] = await eventsOf(root.id);
    expect(bodyOf(failed).data).toMatchObject({ task: { id: root.id, status: 'failed', error: { code: 'CHILD_FAILED' } } });
    expect(bodyOf(completed).data).toMatchObject({
      task: { id: root.id, status: 'failed' },
      nodes: { total: 4, byStatus: { failed: 2, cancelled: 2 } },
    });
    const rows = await deliveries.find({ where: { endpointId: hook.id } });
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((d) => d.eventId)).size).toBe(5);
  });

  it('writes flow.completed when a root completes by its own handler, and none for a task of its own', async () => {
    const tenant = uniqueName('t');
    await endpoint(tenant, (await receiver()).url(), ['flow.*']);
    const { root, children } = await flow(tenant, ['fail-parent']);
    const [child] = children;
    await writer.write(child.id, { status: 'completed', finishedAt: new Date() }, { flowParent: { id: root.id, tenantId: tenant }, subject: subjectOf(child) });
    expect((await dataSource.getRepository(TaskEntity).findOneByOrFail({ id: root.id })).status).toBe('queued');
    await writer.write(root.id, { status: 'completed', result: { children: [] }, finishedAt: new Date() }, { subject: subjectOf(root) });
    const [event] = await eventsOf(root.id);
    expect(bodyOf(event)).toMatchObject({
      type: 'flow.completed',
      data: { task: { id: root.id, status: 'completed' }, nodes: { total: 2, byStatus: { completed: 2 } } },
    });

    const single = taskRow({ tenantId: tenant });
    await app.get(TaskLedgerService).insert([single]);
    await writer.write(single.id, { status: 'completed', finishedAt: new Date() }, { subject: subjectOf(single) });
    expect(await eventsOf(single.id)).toEqual([]);
  });

  it('writes the domain event a type declares (pipeline.completed of webhook.announce) once per run', async () => {
    const tenant = uniqueName('t');
    const hook = await endpoint(tenant, (await receiver()).url(), ['pipeline.completed']);
    const [prepared] = await app
      .get(TaskFactory)
      .prepare(tenant, [{ type: 'webhook.announce', payload: { message: 'crm ready', input: { fileId: 'f1', sha256: 'ab' } } }]);
    await app.get(TaskLedgerService).insert([prepared.row]);
    const announce = prepared.row;
    for (let run = 0; run < 2; run++)
      await writer.write(announce.id, { status: 'completed', result: {}, finishedAt: new Date() }, { subject: subjectOf(announce) });
    const written = await eventsOf(announce.id);
    expect(written.map((e) => e.type)).toEqual(['pipeline.completed']);
    expect(bodyOf(written[0]).data).toEqual({ message: 'crm ready', input: { fileId: 'f1', sha256: 'ab' }, taskId: announce.id, rootId: null, tags: [] });
    expect(await deliveries.countBy({ endpointId: hook.id })).toBe(1);
  });

  it('refuses a callback URL the SSRF guard refuses, and stores nothing', async () => {
    const tenant = uniqueName('t');
    const factory = app.get(TaskFactory);
    for (const url of ['http://private.test/hook', 'http://169.254.169.254/', 'ftp://127.0.0.1/']) {
      await expect(factory.prepare(tenant, [{ type: 'system.noop', payload: {}, callback: { url } }])).rejects.toMatchObject({
        code: 'WEBHOOK_URL_FORBIDDEN',
        details: [{ field: 'callback.url' }],
      });
    }
    expect(await dataSource.getRepository(TaskEntity).countBy({ tenantId: tenant })).toBe(0);
  });

  it('delivers one signed callback of the terminal event to the task URL, with the tenant callback secret, and none for other transitions', async () => {
    const tenant = uniqueName('t');
    const r = await receiver();
    const callbacks = app.get(CallbackEndpoints);
    const request: TaskRequest = { type: 'system.noop', payload: {}, callback: { url: r.url('/cb?task=1') } };
    const [prepared] = await app.get(TaskFactory).prepare(tenant, [request]);
    await app.get(TaskLedgerService).insert([prepared.row]);
    const task = prepared.row;
    expect(task.callbackUrl).toBe(r.url('/cb?task=1'));
    const { secret } = await callbacks.get(tenant);

    await writer.write(task.id, { status: 'retrying', attempts: 1, error: { code: 'X', message: 'x' } }, { subject: subjectOf(task) });
    expect(await deliveries.countBy({ taskId: task.id })).toBe(0);
    await writer.write(task.id, { status: 'completed', result: { ok: 1 }, finishedAt: new Date() }, { subject: subjectOf(task) });
    await writer.write(task.id, { status: 'completed', result: { ok: 1 }, finishedAt: new Date() }, { subject: subjectOf(task) });
    const [delivery] = await delivered(task.id);
    expect(delivery).toMatchObject({ endpointId: callbackEndpointId(tenant), url: r.url('/cb?task=1'), status: 'succeeded', eventType: 'task.completed' });
    expect(r.received).toHaveLength(1);
    expect(r.received[0].path).toBe('/cb?task=1');
    const verified = new Webhook(secret).verify(r.received[0].body, r.received[0].headers as Record<string, string>) as {
      type: string;
      data: { task: { id: string; callback: unknown } };
    };
    expect(verified).toMatchObject({ type: 'task.completed', data: { task: { id: task.id, callback: { url: r.url('/cb?task=1') } } } });

    // After a rotation both secrets sign: a receiver on either verifies.
    const rotated = await callbacks.rotateSecret(tenant);
    const [second] = await app.get(TaskFactory).prepare(tenant, [{ ...request, callback: { url: r.url('/cb?task=2') } }]);
    await app.get(TaskLedgerService).insert([second.row]);
    await writer.write(second.row.id, { status: 'failed', error: { code: 'E', message: 'e' }, finishedAt: new Date() }, { subject: subjectOf(second.row) });
    await delivered(second.row.id);
    const last = r.received[1];
    for (const key of [secret, rotated.secret])
      expect(new Webhook(key).verify(last.body, last.headers as Record<string, string>)).toMatchObject({ type: 'task.failed' });
    // The callback endpoint is no subscription: listing endpoints does not show it.
    expect((await endpoints.list(tenant, 10)).map((e) => e.id)).not.toContain(callbackEndpointId(tenant));
  });
});
