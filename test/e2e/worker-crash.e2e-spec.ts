import { Queue } from 'bullmq';
import { TEST_REDIS_URL, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const TASK_MS = 4000;

/**
 * A worker killed without any chance to clean up (kill -9, OOM, lost node): BullMQ's stall
 * detection hands its running task to another worker once the job lock has expired. Short
 * WORKER_LOCK_DURATION_MS / WORKER_STALLED_INTERVAL_MS keep the test fast; the defaults are 30 s.
 */
describe('worker killed with SIGKILL', () => {
  let stack: Stack;
  const workers: AppProcess[] = [];

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: { WORKER_LOCK_DURATION_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS) },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('its running task is taken over by another worker and completes; the ledger ends consistent', async () => {
    const ids = [uniqueName('worker-a'), uniqueName('worker-b')];
    for (const id of ids) workers.push(await stack.startWorker({ WORKER_ID: id }));

    // maxAttempts 1: the task can only complete if the crash does not use up its attempt.
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: TASK_MS }, maxAttempts: 1 });
    const running = await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`);
        return body.status === 'active' && body.progress ? body : undefined;
      },
      { what: 'the task to run' },
    );
    const victim = ids.indexOf(running.workerId);
    expect(victim).toBeGreaterThanOrEqual(0);
    const survivorId = ids[1 - victim];

    const killedAt = Date.now();
    expect(await workers[victim].stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    // Lock expiry + up to two stall checks + the whole task again, with slack for a busy machine.
    const done = await waitForTerminal(stack.apiUrl, task.id, LOCK_MS + 2 * STALL_CHECK_MS + TASK_MS + 10_000);
    // The ledger tells the truth about the duplicate: the handler started twice (attempts 2),
    // while the retry budget (maxAttempts 1) was not touched by the crash.
    expect(done).toMatchObject({ status: 'completed', workerId: survivorId, error: null, attempts: 2, maxAttempts: 1 });
    expect(done.result).toMatchObject({ attempt: 2 });
    expect((done.result as { sleptMs: number }).sleptMs).toBeGreaterThanOrEqual(TASK_MS);
    // Started again from scratch after the kill, and only once the lock had expired.
    expect(Date.parse(done.startedAt!)).toBeGreaterThanOrEqual(killedAt + LOCK_MS - 500);
    expect(workers[victim].output()).not.toMatch(/task completed/);

    // BullMQ 6: a stalled run counts in attemptsStarted and stalledCounter, never in attemptsMade,
    // so the retry budget is untouched (a second stall of the same job would fail it).
    const queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
    try {
      const job = (await queue.getJob(task.id))!;
      expect({ attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter, finished: await job.isCompleted() }).toEqual({
        attemptsStarted: 2,
        stalledCounter: 1,
        finished: true,
      });
    } finally {
      await queue.close();
    }
  });
});
