import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, uniqueName } from '@conveyor/testing';
import { startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack } from './support/stack';

const LOCK_MS = 2000;

/**
 * A clean whose worker dies (SIGKILL) after it stored the cleaned file, rejects and report but
 * before its completion was recorded: the task is taken over and runs again. The re-run must
 * not leave the first run's files behind as a second set registered under the same task.
 */
describe('file.clean whose worker is killed after storing its outputs', () => {
  let stack: Stack;
  const storageDir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-clean-crash-'));

  const taskFiles = async (taskId: string) => {
    const client = new Client({ connectionString: stack.database.url });
    await client.connect();
    try {
      return (await client.query<{ id: string; kind: string }>('SELECT id, kind FROM files WHERE task_id = $1 ORDER BY kind', [taskId])).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    stack = await startStack({
      dialect: 'postgres',
      worker: false,
      env: { STORAGE_DIR: storageDir, WORKER_LOCK_DURATION_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: '1000' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('ends with one set of outputs: the first run’s files are removed by the run that completes', async () => {
    const doomed = await stack.startWorker({ WORKER_ID: uniqueName('doomed'), CONVEYOR_FAILPOINTS: 'file-clean-after-store' });

    const form = new FormData();
    form.append('rules', JSON.stringify({ trimWhitespace: true, dedupe: { columns: ['id'], keep: 'first' } }));
    form.append('file', new Blob(['id,name\n1, a \n2,b\n2,b\n'], { type: 'text/csv' }), 'small.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.status).toBe(202);
    const { task } = (await response.json()) as { task: { id: string } };

    expect((await doomed.exited).signal).toBe('SIGKILL');
    const leftBehind = await taskFiles(task.id);
    expect(leftBehind.map((f) => f.kind)).toEqual(['output', 'rejects', 'report']); // what the killed run stored
    const storedBefore = readdirSync(storageDir, { recursive: true }).length;

    await stack.startWorker({ WORKER_ID: uniqueName('survivor'), WORKER_HEALTH_PORT: String(await freePort()) });
    const done = await waitForTerminal(stack.apiUrl, task.id, 60_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });

    const result = done.result as { outputFileId: string; rejectsFileId: string; reportFileId: string };
    const files = await taskFiles(task.id);
    expect(files).toEqual([
      { id: result.outputFileId, kind: 'output' },
      { id: result.rejectsFileId, kind: 'rejects' },
      { id: result.reportFileId, kind: 'report' },
    ]);
    expect(files.map((f) => f.id)).not.toContain(leftBehind[0].id);
    // the first run's bytes went with their rows: storage holds as many entries as before
    expect(readdirSync(storageDir, { recursive: true }).length).toBe(storedBefore);
  }, 120_000);
});
