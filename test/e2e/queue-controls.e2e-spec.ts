import { Redis } from 'ioredis';
import { TEST_REDIS_URL, waitFor, type AppProcess } from '@conveyor/testing';
import { http, maxOverlap, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

interface WorkerSettings {
  workerId: string;
  concurrency: number;
  rateLimit: { max: number; durationMs: number } | null;
  version: number;
}

describe('queue controls across worker processes', () => {
  let stack: Stack;
  let late: AppProcess | undefined;
  const call = (method: string, path: string, body?: unknown) => http(stack.apiUrl, method, path, body);
  const queue = () => call('GET', '/v1/queues/system');
  const enqueue = async (count: number, task: object) => {
    const { status, body } = await call('POST', '/v1/tasks/batch', { tasks: Array.from({ length: count }, () => task) });
    expect(status).toBe(202);
    return (body.tasks as TaskView[]).map((t) => t.id);
  };
  const finish = (ids: string[]) => Promise.all(ids.map((id) => waitForTerminal(stack.apiUrl, id, 120_000)));
  /** Waits until exactly these workers report the current settings version, and returns their reports. */
  const applied = (workerIds: string[], check: (w: WorkerSettings) => boolean = () => true) =>
    waitFor(
      async () => {
        const { body } = await queue();
        const reports = (body.workerSettings as WorkerSettings[]).filter((w) => workerIds.includes(w.workerId));
        const current = reports.filter((w) => w.version === body.settings.version && check(w));
        return current.length === workerIds.length ? reports : undefined;
      },
      { timeoutMs: 30_000, what: `workers ${workerIds.join(', ')} to apply the settings` },
    );

  beforeAll(async () => {
    stack = await startStack({ worker: false });
    await stack.startWorker({ WORKER_ID: 'controls-a', WORKER_CONCURRENCY: '4' });
    await stack.startWorker({ WORKER_ID: 'controls-b', WORKER_CONCURRENCY: '4' });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('shows each worker with the concurrency it runs, from its configuration while nothing is stored', async () => {
    const reports = await applied(['controls-a', 'controls-b']);
    expect(reports.map((r) => r.concurrency)).toEqual([4, 4]);
    const { body } = await queue();
    expect(body).toMatchObject({ name: 'system', paused: false, settings: { concurrency: null, rateLimit: null } });
    expect(body.counts).toHaveProperty('waiting');
    expect(body.taskTypes).toContain('system.sleep');
  });

  it('lowers concurrency at runtime on both processes (at most 2 tasks at once), then raises it again', async () => {
    const lowered = await call('PATCH', '/v1/queues/system', { concurrency: 1 });
    expect(lowered.status).toBe(200);
    expect(lowered.body.settings).toMatchObject({ concurrency: 1 });
    await applied(['controls-a', 'controls-b'], (w) => w.concurrency === 1);

    const slow = await finish(await enqueue(8, { type: 'system.sleep', payload: { ms: 400 } }));
    expect(slow.every((t) => t.status === 'completed')).toBe(true);
    expect(maxOverlap(slow)).toBeLessThanOrEqual(2);
    // Both processes took part: the limit is per process, not a single worker doing everything.
    expect(new Set(slow.map((t) => t.workerId)).size).toBe(2);

    const raised = await call('PATCH', '/v1/queues/system', { concurrency: 4 });
    expect(raised.body.settings).toMatchObject({ concurrency: 4 });
    await applied(['controls-a', 'controls-b'], (w) => w.concurrency === 4);
    const fast = await finish(await enqueue(8, { type: 'system.sleep', payload: { ms: 3000 } }));
    expect(maxOverlap(fast)).toBeGreaterThan(2);
  }, 240_000);

  it('gives a worker started after the change the stored concurrency, not its own configuration', async () => {
    await call('PATCH', '/v1/queues/system', { concurrency: 2 });
    late = await stack.startWorker({ WORKER_ID: 'controls-late', WORKER_CONCURRENCY: '9' });
    const reports = await applied(['controls-a', 'controls-b', 'controls-late'], (w) => w.concurrency === 2);
    expect(reports.find((r) => r.workerId === 'controls-late')).toMatchObject({ concurrency: 2 });
    // Back to each worker's configuration: the late one runs 9 again.
    const reset = await call('PATCH', '/v1/queues/system', { concurrency: null });
    expect(reset.body.settings.concurrency).toBeNull();
    const back = await applied(['controls-a', 'controls-b', 'controls-late']);
    expect(Object.fromEntries(back.map((r) => [r.workerId, r.concurrency]))).toEqual({ 'controls-a': 4, 'controls-b': 4, 'controls-late': 9 });
  }, 120_000);

  it('converges a worker that missed the announcement (a change stored without a message)', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const key = `${stack.prefix}:conveyor:queue-settings:system`;
      await redis.multi().hset(key, { concurrency: '3' }).hincrby(key, 'version', 1).exec();
    } finally {
      redis.disconnect();
    }
    await applied(['controls-a', 'controls-b', 'controls-late'], (w) => w.concurrency === 3);
    await call('PATCH', '/v1/queues/system', { concurrency: null });
  }, 60_000);

  it('pauses the queue for every process: running tasks finish, nothing starts until resumed', async () => {
    const running = await enqueue(2, { type: 'system.sleep', payload: { ms: 2000 } });
    await waitFor(async () => (await Promise.all(running.map(async (id) => (await call('GET', `/v1/tasks/${id}`)).body.status))).every((s) => s === 'active'), {
      timeoutMs: 30_000,
      what: 'the sleeps to start',
    });
    const paused = await call('POST', '/v1/queues/system/pause');
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    const held = await enqueue(6, { type: 'system.noop', payload: {} });
    const ran = await finish(running);
    expect(ran.map((t) => t.status)).toEqual(['completed', 'completed']);
    // Well after the running ones ended, none of the held tasks has started.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const id of held) expect((await call('GET', `/v1/tasks/${id}`)).body).toMatchObject({ status: 'queued', startedAt: null });
    expect((await queue()).body).toMatchObject({ paused: true });

    const resumed = await call('POST', '/v1/queues/system/resume');
    expect(resumed.body.paused).toBe(false);
    const done = await finish(held);
    expect(done.every((t) => t.status === 'completed')).toBe(true);
  }, 120_000);

  it('applies a global rate limit across both processes and removes it', async () => {
    const limited = await call('PATCH', '/v1/queues/system', { rateLimit: { max: 2, durationMs: 1000 } });
    expect(limited.status).toBe(200);
    expect(limited.body.settings.rateLimit).toEqual({ max: 2, durationMs: 1000 });
    await applied(['controls-a', 'controls-b', 'controls-late'], (w) => w.rateLimit?.max === 2);
    const tasks = await finish(await enqueue(8, { type: 'system.noop', payload: {} }));
    const starts = tasks.map((t) => Date.parse(t.startedAt!)).sort((a, b) => a - b);
    // 8 starts at 2 per second need at least three more windows after the first one.
    expect(starts[starts.length - 1] - starts[0]).toBeGreaterThanOrEqual(2500);

    const removed = await call('PATCH', '/v1/queues/system', { rateLimit: null });
    expect(removed.body.settings.rateLimit).toBeNull();
    await applied(['controls-a', 'controls-b', 'controls-late'], (w) => w.rateLimit === null);
  }, 120_000);

  it('withdraws the report of a worker that stops', async () => {
    await late!.stop();
    const { body } = await queue();
    expect((body.workerSettings as WorkerSettings[]).map((w) => w.workerId)).toEqual(['controls-a', 'controls-b']);
  }, 60_000);

  it('documents the queue routes with response schemas', async () => {
    const document = (await call('GET', '/docs/json')).body;
    const schema = (path: string, method: string) => document.paths[path][method].responses['200'].content['application/json'].schema;
    for (const [path, method] of [
      ['/v1/queues/{name}', 'get'],
      ['/v1/queues/{name}', 'patch'],
      ['/v1/queues/{name}/pause', 'post'],
      ['/v1/queues/{name}/resume', 'post'],
    ]) {
      expect(schema(path, method)).toEqual({ $ref: '#/components/schemas/QueueDetailView' });
    }
    expect(document.paths['/v1/queues/{name}'].patch.operationId).toBe('updateQueue');
    expect(document.components.schemas.QueueDetailView.properties.workerSettings).toMatchObject({
      type: 'array',
      items: { $ref: '#/components/schemas/QueueWorkerSettingsView' },
    });
    expect(document.components.schemas.UpdateQueueDto.properties.concurrency).toMatchObject({ minimum: 1, maximum: 1000 });
  });
});
