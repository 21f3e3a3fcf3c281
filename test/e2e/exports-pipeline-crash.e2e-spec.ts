import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { SqlDialect } from '@conveyor/database';
import { DIALECTS, freePort, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack, type TaskView } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const ROWS = 400_000;
const FINISHED = ['completed', 'failed', 'cancelled'];

type ChainTask = TaskView & { payload: Record<string, any>; result: any; pipeline: { input: Record<string, any> } | null };

/**
 * A cleaning pipeline whose export step loses its worker to SIGKILL mid-stream: the step is
 * taken over once its lock expires and runs again from the first row. It must still end exactly
 * once: one export file registered (the killed attempt's bytes never became a file), one step
 * after it (the export's completion writes its follow-up once), every row once in the download.
 */
describe.each(DIALECTS)('export step of a pipeline whose worker is killed mid-stream (%s)', (dialect: SqlDialect) => {
  let stack: Stack;
  const storageDir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-export-step-crash-'));
  const workers: AppProcess[] = [];

  /** A query with at most one `?` parameter, in either dialect. */
  const sqlRows = async (text: string, params: unknown[]): Promise<Array<Record<string, unknown>>> => {
    if (dialect === 'postgres') {
      const client = new Client({ connectionString: stack.database.url });
      await client.connect();
      try {
        return (await client.query(text.replace('?', '$1'), params)).rows;
      } finally {
        await client.end();
      }
    }
    const connection = await createConnection({ uri: stack.database.url });
    try {
      return (await connection.query(text, params))[0] as Array<Record<string, unknown>>;
    } finally {
      await connection.end();
    }
  };
  const chain = async (rootId: string): Promise<ChainTask[]> =>
    ((await http(stack.apiUrl, 'GET', `/v1/tasks?rootId=${rootId}&limit=100`)).body.tasks as ChainTask[]).reverse();

  beforeAll(async () => {
    stack = await startStack({
      dialect,
      worker: false,
      env: {
        STORAGE_DIR: storageDir,
        WORKER_LOCK_DURATION_MS: String(LOCK_MS),
        WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS),
        PROGRESS_UPDATE_INTERVAL_MS: '50',
      },
    });
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await stack?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('ends once on the other worker: one export file, one follow-up, every row once', async () => {
    const ids = [uniqueName('worker-a'), uniqueName('worker-b')];
    for (const id of ids) workers.push(await stack.startWorker({ WORKER_ID: id, WORKER_HEALTH_PORT: String(await freePort()) }));

    let csv = 'id,email,comment\n';
    for (let i = 1; i <= ROWS; i += 1) csv += `${i},user${i}@example.com,"note ""${i}"", kept"\n`;
    const form = new FormData();
    form.append('then', JSON.stringify([{ type: 'export.create', payload: { source: 'file', format: 'jsonl' } }, { type: 'system.log' }]));
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'big.csv');
    const accepted = (await (
      await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })
    ).json()) as { task: { id: string } };
    const clean = await waitForTerminal(stack.apiUrl, accepted.task.id, 60_000);
    expect(clean.status).toBe('completed');

    const running = await waitFor(
      async () => {
        const [step] = await chain(clean.id);
        return step?.status === 'active' && (step.progress?.percent ?? 0) > 0 ? step : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the export step to be under way' },
    );
    expect(running.type).toBe('export.create');
    expect(running.progress!.percent).toBeLessThan(100);
    const victim = ids.indexOf(running.workerId!);
    expect(await workers[victim].stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const [exported, log] = await waitFor(
      async () => {
        const tasks = await chain(clean.id);
        return tasks.length >= 2 && tasks.every((task) => FINISHED.includes(task.status)) ? tasks : undefined;
      },
      { timeoutMs: 90_000, what: 'the export step and the step after it to finish' },
    );
    expect(await chain(clean.id)).toHaveLength(2);
    expect(exported).toMatchObject({ id: running.id, type: 'export.create', status: 'completed', attempts: 2, workerId: ids[1 - victim] });
    expect(log).toMatchObject({ type: 'system.log', status: 'completed', attempts: 1, parentId: exported.id });
    expect(log.payload.input).toMatchObject({ exportId: exported.id, fileId: exported.result.fileId, rows: ROWS });
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${exported.id}`)).body.children).toEqual([expect.objectContaining({ id: log.id })]);

    const view = (await http(stack.apiUrl, 'GET', `/v1/exports/${exported.id}`)).body;
    expect(view).toMatchObject({ status: 'completed', rows: ROWS });
    const lines = (await (await fetch(view.downloadUrl)).text()).trimEnd().split('\n');
    expect(lines).toHaveLength(ROWS);
    expect(JSON.parse(lines[0])).toEqual({ id: '1', email: 'user1@example.com', comment: 'note "1", kept' });
    expect(JSON.parse(lines[ROWS - 1]).id).toBe(String(ROWS));
    expect(new Set(lines).size).toBe(ROWS);

    // One registered file for the export; every complete object in storage is a registered file.
    const exportFiles = await sqlRows('SELECT id FROM files WHERE task_id = ?', [exported.id]);
    expect(exportFiles.map((row) => row.id)).toEqual([exported.result.fileId]);
    const registered = (await sqlRows("SELECT id FROM files WHERE tenant_id = 'default'", [])).map((row) => String(row.id)).sort();
    const complete = readdirSync(join(storageDir, 'default')).filter((name) => !name.includes('.part-'));
    expect(complete.sort()).toEqual(registered);
  }, 180_000);
});
