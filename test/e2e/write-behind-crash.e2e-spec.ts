import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Client } from 'pg';
import { TEST_REDIS_URL, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

/**
 * A plain completion is acknowledged to BullMQ before the ledger commits it (write-behind).
 * This kills the worker in exactly that gap (failpoint `after-ack-before-ledger`: BullMQ has
 * the job completed, the ledger write is not committed; PostgreSQL, where the test can hold
 * the row and end the dead worker's session) and checks that nothing is lost or run
 * twice: Redis keeps the completed job, the reconciler records its end from there (result,
 * times, attempts), and the job is then released to Redis' retention.
 */
describe('worker killed between acknowledging a completion and writing it', () => {
  let stack: Stack;
  let redis: Redis;
  let queue: Queue;

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      // The reconciler looks every second at rows unchanged for 10 s (the lowest allowed age).
      env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_MIN_AGE_MS: '10000' },
    });
    redis = new Redis(TEST_REDIS_URL);
    queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
  });

  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  it('the reconciler records the end from Redis: completed once, with the result, never re-run', async () => {
    // The gap made certain: the test holds the task's row locked, so the worker's ledger write
    // waits while BullMQ takes the acknowledgement, and the failpoint kills the worker then.
    await queue.pause();
    const { body: lost } = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1 }, maxAttempts: 1 })) as { body: TaskView };
    const holder = new Client({ connectionString: stack.database.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM tasks WHERE id = $1 FOR UPDATE', [lost.id]);
    // Only the system queue: the reconciler's own runs (maintenance queue) must not trip the failpoint.
    const victim = await stack.startWorker({ CONVEYOR_FAILPOINTS: 'after-ack-before-ledger', WORKER_QUEUES: 'system' });
    await queue.resume();
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The write the dead worker had sent never commits (as if it had not reached the database).
    await holder.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    await holder.query('ROLLBACK');
    await holder.end();

    // As the crash left it: done in Redis, not in the ledger.
    const job = (await queue.getJob(lost.id))!;
    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue).toMatchObject({ attempt: 1 });
    const before = (await http(stack.apiUrl, 'GET', `/v1/tasks/${lost.id}`)).body as TaskView;
    expect(before.status).toBe('queued');

    const survivor = await stack.startWorker();
    const done = await waitForTerminal(stack.apiUrl, lost.id, 60_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 1, error: null, result: job.returnvalue });
    expect(Date.parse(done.finishedAt!)).toBe(job.finishedOn);
    expect(Date.parse(done.startedAt!)).toBe(job.processedOn);
    // Recorded, not run again: the survivor never ran it, and Redis saw one run only.
    await waitFor(() => survivor.logs().some((line) => line.taskId === lost.id && /recorded from Redis/.test(String(line.msg))), {
      what: 'the recovery log line',
    });
    expect(survivor.logs().some((line) => line.taskId === lost.id && line.msg === 'task completed')).toBe(false);
    expect((await queue.getJob(lost.id))!.attemptsStarted).toBe(1);
    // Once the ledger has it, the job joins the retention of ledgered jobs.
    await waitFor(async () => (await redis.zscore(`${stack.prefix}:system:conveyor:ledgered`, lost.id)) !== null, { what: 'the job released to retention' });
  });
});
