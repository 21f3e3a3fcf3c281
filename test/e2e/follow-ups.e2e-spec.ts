import { waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;

/**
 * Follow-ups (`context.enqueue` in a handler): written with the parent's completion in one
 * transaction, queued after the commit; `system.sleep` with `followUps: n` asks for n
 * `system.noop` follow-ups. The crash case kills the worker (SIGKILL, by a failpoint) right
 * after that commit and before the follow-ups are queued or BullMQ hears of the end.
 */
describe('follow-up tasks', () => {
  let stack: Stack;
  const children = async (parentId: string): Promise<TaskView[]> => (await http(stack.apiUrl, 'GET', `/v1/tasks?parentId=${parentId}&limit=200`)).body.tasks;

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: { WORKER_LOCK_DURATION_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS) },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('creates each follow-up once the parent completes, as its children in the same chain', async () => {
    const worker = await stack.startWorker();
    try {
      const { body: parent } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 10, followUps: 3 } });
      expect((await waitForTerminal(stack.apiUrl, parent.id)).status).toBe('completed');
      const done = await waitFor(
        async () => {
          const rows = await children(parent.id);
          return rows.length === 3 && rows.every((row) => row.status === 'completed') ? rows : undefined;
        },
        { what: 'three completed follow-ups' },
      );
      expect(done.map((row) => ({ type: row.type, parentId: row.parentId, rootId: row.rootId, attempts: row.attempts }))).toEqual(
        Array.from({ length: 3 }, () => ({ type: 'system.noop', parentId: parent.id, rootId: parent.id, attempts: 1 })),
      );
      const detail = (await http(stack.apiUrl, 'GET', `/v1/tasks/${parent.id}`)).body;
      expect(detail.children.map((c: { id: string }) => c.id).sort()).toEqual(done.map((row) => row.id).sort());
      expect((await http(stack.apiUrl, 'GET', `/v1/tasks?rootId=${parent.id}`)).body.tasks).toHaveLength(3);

      // A failing parent creates none.
      const { body: failing } = await http(stack.apiUrl, 'POST', '/v1/tasks', {
        type: 'system.sleep',
        payload: { ms: 1, failTimes: 1, followUps: 2 },
        maxAttempts: 1,
      });
      expect((await waitForTerminal(stack.apiUrl, failing.id)).status).toBe('failed');
      expect(await children(failing.id)).toEqual([]);
    } finally {
      await worker.stop();
    }
  });

  it('creates them exactly once when the worker dies between the commit and queuing them', async () => {
    const victim = await stack.startWorker({ CONVEYOR_FAILPOINTS: 'after-follow-up-commit' });
    const { body: parent } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 50, followUps: 3 } });
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { timeoutMs: 15_000, what: 'the worker to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    // Committed with the completion, not queued: the rows wait, nothing runs them yet.
    const committed = await children(parent.id);
    expect(committed.map((row) => row.status)).toEqual(['queued', 'queued', 'queued']);
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${parent.id}`)).body.status).toBe('completed');

    // Another worker takes the stalled parent over and runs it again: its follow-ups are the
    // same three (none added), now queued and run, each once.
    await stack.startWorker();
    const rerun = await waitFor(
      async () => {
        const task = (await http(stack.apiUrl, 'GET', `/v1/tasks/${parent.id}`)).body;
        return task.attempts === 2 && task.status === 'completed' ? task : undefined;
      },
      { timeoutMs: LOCK_MS + 3 * STALL_CHECK_MS + 15_000, what: 'the parent to run again on the other worker' },
    );
    expect(rerun.status).toBe('completed');
    const done = await waitFor(
      async () => {
        const rows = await children(parent.id);
        return rows.every((row) => row.status === 'completed') ? rows : undefined;
      },
      { what: 'the follow-ups to complete' },
    );
    expect(done.map((row) => row.id).sort()).toEqual(committed.map((row) => row.id).sort());
    expect(done.map((row) => row.attempts)).toEqual([1, 1, 1]);
  });
});
