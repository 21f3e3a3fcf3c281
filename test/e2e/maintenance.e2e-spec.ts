import { Queue } from 'bullmq';
import { Client } from 'pg';
import { TEST_REDIS_URL, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/**
 * The housekeeping jobs as the built worker schedules them (short intervals from config):
 * the reconciler puts back a job Redis lost, retention deletes a task finished long ago.
 * Ages are set in SQL, since the schema's minimum ages are too long for a test.
 */
describe('worker maintenance jobs on their intervals', () => {
  let stack: Stack;
  let sql: Client;
  let queue: Queue;

  beforeAll(async () => {
    stack = await startStack({ env: { RECONCILE_INTERVAL_MS: '300', RETENTION_INTERVAL_MS: '300' } });
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
  });

  it('retention deletes a task that finished longer than TASK_TTL_SECONDS ago', async () => {
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect((await waitForTerminal(stack.apiUrl, task.id)).status).toBe('completed');
    await sql.query(`UPDATE tasks SET finished_at = now() - interval '8 days' WHERE id = $1`, [task.id]);
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`)).status === 404, { what: 'the task to be purged' });
    expect(await queue.getJob(task.id)).toBeUndefined();
  });
});
