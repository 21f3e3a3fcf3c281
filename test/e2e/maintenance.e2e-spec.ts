import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { startPrivateRedis, TEST_REDIS_URL, waitFor, type PrivateRedis } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

const RECONCILE_KEY = 'system.reconcile:interval';
const RETENTION_KEY = 'system.retention:interval';

type ScheduleView = { id: string; key: string | null; readOnly: boolean; everyMs: number; overlap: string; missed: string };

/**
 * The housekeeping jobs as the built apps run them: tasks of code-declared system schedules
 * (intervals from config). The reconciler puts back a job Redis lost, retention deletes a task
 * finished long ago, the runs and schedules are visible to an admin only and read-only, and
 * after a FLUSHALL the reconciler recovers its own lost run. Ages are set in SQL, since the
 * schema's minimum ages are too long for a test.
 */
describe('worker maintenance as system schedules', () => {
  let stack: Stack;
  let sql: Client;
  let queue: Queue;

  beforeAll(async () => {
    stack = await startStack({ env: { RECONCILE_INTERVAL_MS: '1000', RETENTION_INTERVAL_MS: '1000' } });
    sql = new Client({ connectionString: stack.database.url });
    await sql.connect();
    queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
  });

  afterAll(async () => {
    await queue?.close();
    await sql?.end();
    await stack?.stop();
  });

  it('the reconciler re-adds the job of a task whose job vanished, and counts it', async () => {
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 3_600_000 });
    await queue.remove(task.id);
    expect(await queue.getJob(task.id)).toBeUndefined();
    await sql.query(`UPDATE tasks SET updated_at = now() - interval '10 minutes' WHERE id = $1`, [task.id]);

    const job = await waitFor(() => queue.getJob(task.id), { what: 'the job to be back' });
    expect(job.opts.delay).toBeGreaterThan(3_500_000);
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`)).body.status).toBe('scheduled');
    const metrics = (await http(stack.workerUrl, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/conveyor_tasks_requeued_total\{[^}]*type="system.noop"[^}]*reason="job_missing"[^}]*\} 1/);
    // The pass that did it is a task of its own, with its counts as the result.
    const runs = (await http(stack.apiUrl, 'GET', '/v1/tasks?type=system.reconcile&status=completed&limit=100')).body.tasks as TaskView[];
    expect(runs.some((run) => (run.result as { requeued: number }).requeued === 1)).toBe(true);
  });

  it('retention deletes a task that finished longer than TASK_TTL_SECONDS ago', async () => {
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect((await waitForTerminal(stack.apiUrl, task.id)).status).toBe('completed');
    await sql.query(`UPDATE tasks SET finished_at = now() - interval '8 days' WHERE id = $1`, [task.id]);
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`)).status === 404, { what: 'the task to be purged' });
    expect(await queue.getJob(task.id)).toBeUndefined();
  });

  it('runs and schedules are an admin’s to read, never a tenant’s; the schedules are read-only; ticks are counted by schedule', async () => {
    const schedules = (await http(stack.apiUrl, 'GET', '/v1/schedules?limit=100')).body.schedules as ScheduleView[];
    const reconcile = schedules.find((s) => s.key === RECONCILE_KEY)!;
    expect(reconcile).toMatchObject({ readOnly: true, everyMs: 1000, overlap: 'skip', missed: 'skip' });
    expect(schedules.find((s) => s.key === RETENTION_KEY)).toMatchObject({ readOnly: true, everyMs: 1000 });
    for (const [method, body] of [
      ['PATCH', { everyMs: 5000 }],
      ['DELETE', undefined],
    ] as const) {
      const refused = await http(stack.apiUrl, method, `/v1/schedules/${reconcile.id}`, body);
      expect({ method, status: refused.status, code: refused.body.error?.code }).toEqual({ method, status: 403, code: 'SCHEDULE_READ_ONLY' });
    }
    const detail = (await http(stack.apiUrl, 'GET', `/v1/schedules/${reconcile.id}`)).body;
    expect(detail.everyMs).toBe(1000);
    const run = detail.runs.find((r: { status: string }) => r.status === 'completed');
    expect(run).toBeDefined();

    const tenantKey = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'acme', scopes: ['tasks:read', 'tasks:write'] })).body.key as string;
    const asTenant = { authorization: `Bearer ${tenantKey}` };
    expect((await http(stack.apiUrl, 'GET', `/v1/schedules/${reconcile.id}`, undefined, asTenant)).status).toBe(404);
    expect((await http(stack.apiUrl, 'PATCH', `/v1/schedules/${reconcile.id}`, { everyMs: 5000 }, asTenant)).status).toBe(404);
    expect((await http(stack.apiUrl, 'GET', '/v1/schedules', undefined, asTenant)).body.schedules).toEqual([]);
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${run.taskId}`, undefined, asTenant)).status).toBe(404);
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?type=system.reconcile', undefined, asTenant)).body.tasks).toEqual([]);
    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.reconcile', payload: {} }, asTenant);
    expect({ status: created.status, code: created.body.error?.code }).toEqual({ status: 400, code: 'UNKNOWN_TASK_TYPE' });
    const types = (await http(stack.apiUrl, 'GET', '/v1/task-types', undefined, asTenant)).body.taskTypes as Array<{ type: string }>;
    expect(types.map((t) => t.type)).not.toContain('system.reconcile');

    const metrics = (await http(stack.workerUrl, 'GET', '/metrics')).body as string;
    const fired = metrics.match(/conveyor_schedule_ticks_total\{schedule="system\.reconcile:interval",outcome="fired",reason=""\} (\d+)/);
    expect(Number(fired?.[1])).toBeGreaterThanOrEqual(1);
  });
});

/**
 * The circle: the reconciler re-adds the jobs Redis lost, but its own run's job can be among
 * them, and with `overlap: skip` that lost run blocks every later tick. The schedule runner
 * re-queues a blocking run whose job is gone, so the next tick recovers. On a private Redis:
 * the shared one must never be flushed.
 */
describe('maintenance after a Redis FLUSHALL', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  let sql: Client;
  let queue: Queue;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    // No worker at first, and the scheduler in the API: the first reconcile run waits in the
    // queue, unfinished, when Redis loses everything.
    stack = await startStack({
      worker: false,
      env: { REDIS_URL: redis.url, SCHEDULER_ENABLED: 'true', RECONCILE_INTERVAL_MS: '1000', RECONCILE_MIN_AGE_MS: '10000', RETENTION_INTERVAL_MS: '0' },
    });
    sql = new Client({ connectionString: stack.database.url });
    await sql.connect();
    queue = new Queue('system', { connection: { url: redis.url }, prefix: stack.prefix });
  });

  afterAll(async () => {
    await queue?.close();
    await sql?.end();
    await stack?.stop();
    await redis?.stop();
  });

  it('the lost reconcile run is re-queued by the tick it blocks, runs, and re-adds the other lost jobs', async () => {
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 3_600_000 });
    const [lostRun] = await waitFor(
      async () => {
        const runs = (await http(stack.apiUrl, 'GET', '/v1/tasks?type=system.reconcile')).body.tasks as TaskView[];
        return runs.length > 0 ? runs : undefined;
      },
      { what: 'the first reconcile run' },
    );
    expect(lostRun.status).toBe('queued');

    const client = new Redis(redis.url);
    await client.flushall().finally(() => client.disconnect());
    expect(await queue.getJob(task.id)).toBeUndefined();
    // Both rows are old enough to judge (RECONCILE_MIN_AGE_MS) without waiting for it.
    await sql.query(`UPDATE tasks SET updated_at = now() - interval '10 minutes' WHERE id = ANY($1)`, [[task.id, lostRun.id]]);

    await stack.startWorker();
    const done = await waitForTerminal(stack.apiUrl, lostRun.id);
    expect(done.status).toBe('completed');
    expect((done.result as { requeued: number }).requeued).toBeGreaterThanOrEqual(1);
    const job = await waitFor(() => queue.getJob(task.id), { what: "the delayed task's job to be back" });
    expect(job.opts.delay).toBeGreaterThan(3_500_000);
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`)).body.status).toBe('scheduled');
    // And the schedule goes on: later ticks fire and complete.
    await waitFor(
      async () => {
        const runs = (await http(stack.apiUrl, 'GET', '/v1/tasks?type=system.reconcile&status=completed')).body.tasks as TaskView[];
        return runs.some((run) => run.id !== lostRun.id) || undefined;
      },
      { what: 'a later reconcile run to complete' },
    );
  });
});
