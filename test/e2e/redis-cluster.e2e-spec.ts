import { Cluster } from 'ioredis';
import { TestReceiver, waitFor } from '@conveyor/testing';
import { startRedisCluster, type RedisClusterDeployment } from './support/redis-topologies';
import { http, localWebhookEnv, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack } from './support/stack';

/**
 * The whole task path on a three-master Redis Cluster made by the test: the built API and
 * worker connect through REDIS_CLUSTER_NODES only. Enqueue (one and a batch), follow-ups, a flow,
 * a schedule's ticks, cancel of a running task (pub/sub through the cluster), a pushed event
 * stream, a webhook delivery; then every key the deployment wrote lives under its hash-tagged prefix, in one slot.
 */
describe('Redis Cluster', () => {
  let cluster: RedisClusterDeployment;
  let stack: Stack;
  let receiver: TestReceiver;
  const post = (path: string, body: unknown = {}) => http(stack.apiUrl, 'POST', path, body);
  const get = (path: string) => http(stack.apiUrl, 'GET', path);

  beforeAll(async () => {
    cluster = await startRedisCluster();
    receiver = await new TestReceiver().start();
    stack = await startStack({ env: { ...cluster.env, ...localWebhookEnv(), RECONCILE_INTERVAL_MS: '2000' } });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
    await cluster?.stop();
  });

  it('runs single and batched tasks, follow-ups and a flow', async () => {
    const one = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 10, followUps: 2 } });
    expect(one.status).toBe(202);
    const batch = await post('/v1/tasks/batch', { tasks: Array.from({ length: 20 }, (_, i) => ({ type: 'system.noop', payload: {}, tags: [`n${i}`] })) });
    expect({ status: batch.status, error: batch.body.error }).toEqual({ status: 202, error: undefined });
    const ids: string[] = batch.body.tasks.map((task: { id: string }) => task.id);
    expect(ids).toHaveLength(20);
    for (const id of [one.body.id, ...ids]) expect((await waitForTerminal(stack.apiUrl, id, 60_000)).status).toBe('completed');

    const followUps = await waitFor(
      async () => {
        const children = (await get(`/v1/tasks?parentId=${one.body.id}`)).body.tasks as Array<{ status: string }>;
        return children.length === 2 && children.every((child) => child.status === 'completed') ? children : undefined;
      },
      { timeoutMs: 60_000, what: 'both follow-ups completed' },
    );
    expect(followUps).toHaveLength(2);

    const flow = await post('/v1/flows', {
      type: 'system.gather',
      payload: {},
      children: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: 20 } },
      ],
    });
    expect(flow.status).toBe(202);
    const root = await waitForTerminal(stack.apiUrl, flow.body.id, 60_000);
    expect(root.status).toBe('completed');
    expect(root.result).toMatchObject({ completed: 2, failed: 0 });
  }, 180_000);

  it("runs a schedule's ticks", async () => {
    const created = await post('/v1/schedules', { everyMs: 1000, task: { type: 'system.noop', payload: {} }, overlap: 'skip' });
    expect(created.status).toBe(201);
    const run = await waitFor(
      async () =>
        ((await get(`/v1/schedules/${created.body.id}`)).body.runs as Array<{ status: string; taskId: string }>).find((r) => r.status === 'completed'),
      { timeoutMs: 60_000, what: 'a completed schedule run' },
    );
    expect((await get(`/v1/tasks/${run.taskId}`)).body).toMatchObject({ status: 'completed', scheduleId: created.body.id });
    expect((await http(stack.apiUrl, 'DELETE', `/v1/schedules/${created.body.id}`)).status).toBe(204);
  }, 120_000);

  it('cancels a running task through the cluster pub/sub and pushes its end to an event stream', async () => {
    const task = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 30_000 }, maxAttempts: 3 })).body;
    await waitFor(async () => (await get(`/v1/tasks/${task.id}`)).body.status === 'active', { timeoutMs: 60_000, what: 'the task active' });
    const stream = fetch(`${stack.apiUrl}/v1/tasks/${task.id}/events`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } }).then((r) => r.text());
    const cancel = await post(`/v1/tasks/${task.id}/cancel`);
    expect(cancel.status).toBe(202);
    // Well before the 30 s sleep would have ended: the worker heard the cancellation.
    const done = await waitForTerminal(stack.apiUrl, task.id, 20_000);
    expect(done).toMatchObject({ status: 'cancelled', attempts: 1, error: { code: 'CANCELLED' } });
    const events = await stream;
    expect(events).toMatch(/"status":"cancelled"/);
  }, 120_000);

  it('delivers a webhook: the webhooks queue and its endpoint-slot script on the cluster', async () => {
    const endpoint = await post('/v1/webhooks/endpoints', { url: receiver.url('/cluster'), events: ['task.completed'] });
    expect(endpoint.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(endpoint.body.activeFrom) - Date.now() + 50)));
    const task = (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body;
    const delivered = await waitFor(
      () => receiver.received.find((r) => r.path === '/cluster' && (JSON.parse(r.body) as { data?: { task?: { id: string } } }).data?.task?.id === task.id),
      { timeoutMs: 60_000, what: 'the task.completed webhook' },
    );
    expect(JSON.parse(delivered.body)).toMatchObject({ type: 'task.completed' });
  }, 120_000);

  it('changes a queue at runtime through the cluster: stored, published, applied and reported by the worker, paused and resumed', async () => {
    const changed = await http(stack.apiUrl, 'PATCH', '/v1/queues/system', { concurrency: 3 });
    expect(changed.status).toBe(200);
    const version = changed.body.settings.version as number;
    const report = await waitFor(
      async () => {
        const { body } = await get('/v1/queues/system');
        const mine = (body.workerSettings as Array<{ version: number; concurrency: number }>).find((w) => w.version === version);
        return mine?.concurrency === 3 ? mine : undefined;
      },
      { timeoutMs: 30_000, what: 'the worker to apply concurrency 3' },
    );
    expect(report).toMatchObject({ concurrency: 3, version });
    expect((await post('/v1/queues/system/pause')).body).toMatchObject({ paused: true });
    expect((await post('/v1/queues/system/resume')).body).toMatchObject({ paused: false });
    const done = await waitForTerminal(stack.apiUrl, (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body.id, 30_000);
    expect(done.status).toBe('completed');
    expect((await http(stack.apiUrl, 'PATCH', '/v1/queues/system', { concurrency: null })).status).toBe(200);
  });

  it('keeps every key of the deployment under its hash-tagged prefix, in one slot', async () => {
    const client = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
    try {
      await new Promise((resolve, reject) => client.once('ready', resolve).once('error', reject));
      const keys: string[] = [];
      for (const node of client.nodes('master')) {
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'COUNT', 1000);
          keys.push(...found);
          cursor = next;
        } while (cursor !== '0');
      }
      const tagged = `{${stack.prefix}}:`;
      expect(keys.length).toBeGreaterThan(10);
      expect(keys.filter((key) => !key.startsWith(tagged))).toEqual([]);
      // Completed jobs went through the retention script's ledgered set.
      expect(keys).toContain(`${tagged}system:conveyor:ledgered`);
      const slots = new Set(await Promise.all(keys.slice(0, 50).map((key) => client.cluster('KEYSLOT', key))));
      expect(slots.size).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
