import { Queue } from 'bullmq';
import { TEST_REDIS_URL, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

/** The spine, end to end: the built API and worker as separate processes over HTTP. */
describe('task lifecycle (API + worker processes, PostgreSQL)', () => {
  let stack: Stack;
  const post = (path: string, body: unknown, headers?: Record<string, string>) => http(stack.apiUrl, 'POST', path, body, headers);
  const get = (path: string) => http(stack.apiUrl, 'GET', path);

  beforeAll(async () => {
    stack = await startStack({ env: { WORKER_CONCURRENCY: 'system=4' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('accepts a task with 202 + Location and completes it with a filled ledger row', async () => {
    const created = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 300 }, tags: ['e2e'] });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/tasks/${created.body.id}`);
    expect(created.body).toMatchObject({ type: 'system.sleep', status: 'queued', priority: 5, attempts: 0, maxAttempts: 3 });
    expect(created.headers.get('x-request-id')).toBeTruthy();

    const done = await waitForTerminal(stack.apiUrl, created.body.id);
    expect(done.status).toBe('completed');
    expect(done.result).toEqual({ sleptMs: expect.any(Number), attempt: 1 });
    expect((done.result as { sleptMs: number }).sleptMs).toBeGreaterThanOrEqual(300);
    expect(done.attempts).toBe(1);
    expect(done.progress).toMatchObject({ percent: 100 });
    expect(done.workerId).toMatch(/^worker_/);
    expect(done.error).toBeNull();
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
    expect(Date.parse(done.finishedAt!) - Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(290);
  });

  it('reports progress while a task runs', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1500 } });
    const running = await waitFor(
      async () => {
        const task = (await get(`/v1/tasks/${body.id}`)).body as TaskView;
        return task.status === 'active' && task.progress && task.progress.percent > 0 && task.progress.percent < 100 ? task : undefined;
      },
      { what: 'progress between 0 and 100' },
    );
    expect(running.progress!.message).toMatch(/slept \d+ of 1500 ms/);
    expect((await waitForTerminal(stack.apiUrl, body.id)).status).toBe('completed');
  });

  it('retries a failing attempt with backoff and then succeeds', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 10, failTimes: 2 }, maxAttempts: 3 });
    const done = await waitForTerminal(stack.apiUrl, body.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 3, error: null });
    expect(done.result).toMatchObject({ attempt: 3 });
    // The retrying row said when the next attempt would run, and BullMQ waited exactly that long:
    // the last attempt started no earlier than the last recorded scheduledFor.
    expect(done.scheduledFor).not.toBeNull();
    expect(Date.parse(done.scheduledFor!)).toBeGreaterThan(Date.parse(done.createdAt));
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(done.scheduledFor!));
  });

  it('fails for good after maxAttempts, keeping the last error', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 10, failTimes: 5 }, maxAttempts: 2 });
    const done = await waitForTerminal(stack.apiUrl, body.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 2 });
    expect(done.error).toEqual({ code: 'SLEEP_PLANNED_FAILURE', message: 'planned failure of attempt 2' });
    expect(done.finishedAt).not.toBeNull();
  });

  it('fails an attempt that runs past its timeout with code TIMEOUT', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 5000 }, timeoutMs: 300, maxAttempts: 1 });
    const done = await waitForTerminal(stack.apiUrl, body.id);
    expect(done.status).toBe('failed');
    expect(done.error!.code).toBe('TIMEOUT');
    expect(Date.parse(done.finishedAt!) - Date.parse(done.startedAt!)).toBeLessThan(2000);
  });

  it('runs a delayed task no earlier than asked, showing it as scheduled meanwhile', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 1500 });
    expect(body.status).toBe('scheduled');
    expect(Date.parse(body.scheduledFor) - Date.parse(body.createdAt)).toBe(1500);
    const done = await waitForTerminal(stack.apiUrl, body.id);
    expect(done.status).toBe('completed');
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(body.createdAt) + 1500);
  });

  it('accepts runAt as an absolute time', async () => {
    const runAt = new Date(Date.now() + 1000).toISOString();
    const { body } = await post('/v1/tasks', { type: 'system.noop', payload: {}, runAt });
    expect(body.status).toBe('scheduled');
    const done = await waitForTerminal(stack.apiUrl, body.id);
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(Date.parse(runAt));
  });

  it('schedules runAt by the same parser that validated it, and refuses forms it cannot read', async () => {
    // Valid ISO 8601 that Date.parse cannot read (an offset of hours only): such a runAt used
    // to pass validation and run at once. A month ahead, written at +14:00.
    const at = Math.floor((Date.now() + 30 * 24 * 3600_000) / 60_000) * 60_000;
    const runAt = `${new Date(at + 14 * 3600_000).toISOString().slice(0, 16)}+14`;
    const { status, body } = await post('/v1/tasks', { type: 'system.noop', payload: {}, runAt });
    expect({ runAt, status, taskStatus: body.status, scheduledFor: body.scheduledFor }).toEqual({
      runAt,
      status: 202,
      taskStatus: 'scheduled',
      scheduledFor: new Date(at).toISOString(),
    });
    await post(`/v1/tasks/${body.id}/cancel`, {});
    for (const runAt of ['2030-W01-1', '20300101', '2030-01-01', '2030-01-01T10:00:00', '2030-02-30T00:00:00Z', '2999-01-01T00:00:00Z']) {
      const refused = await post('/v1/tasks', { type: 'system.noop', payload: {}, runAt, tags: ['odd-run-at'] });
      expect({ runAt, status: refused.status, code: refused.body.error?.code, field: refused.body.error?.details?.[0]?.field }).toEqual({
        runAt,
        status: 400,
        code: 'VALIDATION_FAILED',
        field: 'runAt',
      });
    }
    expect((await get('/v1/tasks?tag=odd-run-at')).body.tasks).toEqual([]);
  });

  it('runs higher priorities first and keeps FIFO within a priority', async () => {
    const queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
    await queue.pause();
    try {
      const priorities = [5, 1, 10, 1, 5, 3, 10, 1];
      const ids: string[] = [];
      for (const priority of priorities) {
        ids.push((await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 30 }, priority })).body.id);
      }
      // One worker slot makes start order observable; a dedicated worker joins the paused queue.
      await stack.worker!.stop();
      stack.worker = await stack.startWorker({ WORKER_CONCURRENCY: '1' });
      await queue.resume();
      const done = await Promise.all(ids.map((id) => waitForTerminal(stack.apiUrl, id)));
      const startOrder = done
        .map((task, index) => ({ index, priority: priorities[index], startedAt: Date.parse(task.startedAt!) }))
        .sort((a, b) => a.startedAt - b.startedAt);
      const expected = priorities
        .map((priority, index) => ({ priority, index }))
        .sort((a, b) => a.priority - b.priority || a.index - b.index)
        .map((entry) => entry.index);
      expect(startOrder.map((entry) => entry.index)).toEqual(expected);
    } finally {
      await queue.resume();
      await queue.close();
    }
  });

  it('enqueues a batch in one call and rejects a batch with any bad task, accepting none', async () => {
    const ok = await post('/v1/tasks/batch', {
      tasks: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: 5 }, priority: 2 },
        { type: 'system.noop', payload: {}, tags: ['batch'] },
      ],
    });
    expect(ok.status).toBe(202);
    expect(ok.body.tasks).toHaveLength(3);
    const done = await Promise.all(ok.body.tasks.map((t: TaskView) => waitForTerminal(stack.apiUrl, t.id)));
    expect(done.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);

    const before = (await get('/v1/tasks?limit=200')).body.tasks.length;
    const bad = await post('/v1/tasks/batch', {
      tasks: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: -1 } },
        { type: 'nope', payload: {} },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    const fields = bad.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['tasks[1].payload.ms', 'tasks[2].type']));
    expect((await get('/v1/tasks?limit=200')).body.tasks.length).toBe(before);

    const tooMany = await post('/v1/tasks/batch', { tasks: Array.from({ length: 1001 }, () => ({ type: 'system.noop', payload: {} })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('answers bad input with 4xx and a machine-readable code', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ type: 'no.such', payload: {} }, 400, 'UNKNOWN_TASK_TYPE'],
      [{ type: 'system.sleep', payload: { ms: 'soon' } }, 400, 'VALIDATION_FAILED'],
      [{ type: 'system.sleep', payload: { ms: 1, extra: true } }, 400, 'VALIDATION_FAILED'],
      [{ type: 'system.sleep' }, 400, 'VALIDATION_FAILED'],
      [{ type: 'system.noop', payload: {}, priority: 11 }, 400, 'VALIDATION_FAILED'],
      [{ type: 'system.noop', payload: {}, delayMs: 10, runAt: new Date().toISOString() }, 400, 'VALIDATION_FAILED'],
      [{ type: 'system.noop', payload: {}, surprise: 1 }, 400, 'VALIDATION_FAILED'],
      ['{"type": ', 400, 'INVALID_JSON'],
      [[1, 2], 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const response = await post('/v1/tasks', body);
      expect({ body, status: response.status, code: response.body?.error?.code }).toEqual({ body, status, code });
      expect(typeof response.body.error.message).toBe('string');
    }
    const invalid = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 'soon' } });
    expect(invalid.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'payload.ms' })]));

    expect((await get('/v1/tasks/00000000-0000-7000-8000-000000000000')).body.error.code).toBe('TASK_NOT_FOUND');
    expect((await get('/v1/tasks/not-a-uuid')).status).toBe(404);
    expect((await get('/v1/tasks?status=bogus')).status).toBe(400);
    expect((await get('/v1/tasks?cursor=!!!')).body.error.code).toBe('INVALID_CURSOR');
    expect((await get('/v1/nothing-here')).body.error.code).toBe('NOT_FOUND');
  });

  it('lists tasks newest first with filters and cursor paging', async () => {
    const tag = `page-${Date.now()}`;
    const created = (await post('/v1/tasks/batch', { tasks: Array.from({ length: 5 }, () => ({ type: 'system.noop', payload: {}, tags: [tag] })) })).body
      .tasks as TaskView[];
    await Promise.all(created.map((t) => waitForTerminal(stack.apiUrl, t.id)));
    const first = (await get(`/v1/tasks?tag=${tag}&limit=2`)).body;
    const second = (await get(`/v1/tasks?tag=${tag}&limit=2&cursor=${first.nextCursor}`)).body;
    const third = (await get(`/v1/tasks?tag=${tag}&limit=2&cursor=${second.nextCursor}`)).body;
    expect(third.nextCursor).toBeNull();
    const ids = [...first.tasks, ...second.tasks, ...third.tasks].map((t: TaskView) => t.id);
    expect(ids).toEqual(created.map((t) => t.id).reverse());
    const completedNoops = (await get(`/v1/tasks?tag=${tag}&type=system.noop&status=completed&limit=10`)).body.tasks;
    expect(completedNoops).toHaveLength(5);
    expect((await get(`/v1/tasks?tag=${tag}&status=failed`)).body.tasks).toHaveLength(0);
  });

  it('describes queues and task types', async () => {
    const queues = (await get('/v1/queues')).body.queues;
    expect(queues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'system',
          paused: false,
          workers: expect.any(Number),
          taskTypes: ['system.gather', 'system.log', 'system.noop', 'system.sleep', 'webhook.announce'],
        }),
        expect.objectContaining({ name: 'file-processing', taskTypes: ['file.checksum', 'file.clean'] }),
      ]),
    );
    const system = queues.find((q: { name: string }) => q.name === 'system');
    expect(system.workers).toBeGreaterThanOrEqual(1);
    expect(Object.keys(system.counts)).toEqual(expect.arrayContaining(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']));

    const types = (await get('/v1/task-types')).body.taskTypes;
    const sleep = types.find((t: { type: string }) => t.type === 'system.sleep');
    expect(sleep.payloadSchema).toMatchObject({
      type: 'object',
      required: ['ms'],
      properties: { ms: { type: 'integer', minimum: 0 }, failTimes: { anyOf: [expect.objectContaining({ type: 'integer' }), { type: 'null' }] } },
    });
    expect(sleep.defaults).toMatchObject({ priority: 5, maxAttempts: 3, backoff: { type: 'exponential' } });
  });

  it('exposes health and Prometheus metrics on both apps', async () => {
    // The worker may have been restarted by an earlier test: produce the counted events here.
    const failing = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 1 }, maxAttempts: 1 })).body;
    const noop = (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body;
    await Promise.all([waitForTerminal(stack.apiUrl, failing.id), waitForTerminal(stack.apiUrl, noop.id)]);
    expect((await get('/health/live')).status).toBe(200);
    const ready = await get('/health/ready');
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' }, redis: { status: 'up' } } });

    const workerReady = await http(stack.workerUrl, 'GET', '/health/ready');
    expect(workerReady.status).toBe(200);
    expect(workerReady.body.worker).toMatchObject({ running: true });
    expect(workerReady.body.worker.queues).toEqual(expect.arrayContaining(['system', 'file-processing']));
    expect((await http(stack.workerUrl, 'GET', '/health/live')).status).toBe(200);

    const apiMetrics = (await get('/metrics')).body as string;
    expect(apiMetrics).toMatch(/conveyor_tasks_enqueued_total\{type="system.sleep",queue="system"\} \d+/);
    expect(apiMetrics).toMatch(/conveyor_http_requests_total\{method="POST",route="\/v1\/tasks",status="202"\} \d+/);
    expect(apiMetrics).toMatch(/conveyor_queue_jobs\{queue="system",state="completed"\} \d+/);
    const workerMetrics = (await http(stack.workerUrl, 'GET', '/metrics')).body as string;
    expect(workerMetrics).toMatch(/conveyor_tasks_completed_total\{type="system.noop",queue="system"\} \d+/);
    expect(workerMetrics).toMatch(/conveyor_tasks_failed_total\{type="system.sleep",queue="system",code="SLEEP_PLANNED_FAILURE",final="true"\} \d+/);
    expect(workerMetrics).toMatch(/conveyor_task_duration_seconds_bucket/);
    expect(workerMetrics).toMatch(/conveyor_task_wait_seconds_count\{type="system.sleep",queue="system"\} \d+/);
  });

  it('logs JSON lines with task id, type and attempt in the worker and request ids in the API', async () => {
    const { body } = await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 5, failTimes: 1 } }, { 'x-request-id': 'req-e2e-1' });
    await waitForTerminal(stack.apiUrl, body.id);
    await waitFor(() => stack.worker!.logs().some((l) => l.taskId === body.id && l.msg === 'task completed'), { what: 'completion log' });
    const lines = stack.worker!.logs().filter((line) => line.taskId === body.id);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ taskType: 'system.sleep', attempt: 1, msg: 'task attempt failed; will retry', code: 'SLEEP_PLANNED_FAILURE' }),
        expect.objectContaining({ taskType: 'system.sleep', attempt: 2, msg: 'task completed' }),
      ]),
    );
    expect(stack.api!.logs().some((line) => (line.req as { id?: string } | undefined)?.id === 'req-e2e-1')).toBe(true);
  });
});
