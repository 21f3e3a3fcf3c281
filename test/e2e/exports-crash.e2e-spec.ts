import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, type Stack } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const ROWS = 300_000;

async function sql<T>(stack: Stack, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: stack.database.url, statement_timeout: 120_000 });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A worker SIGKILLed in the middle of an export: the task is taken over once its lock expires and
 * runs again from the first row; the export ends with every row once and one file registered.
 */
describe('export whose worker is killed mid-stream', () => {
  let stack: Stack;
  let storageDir: string;
  const workers: AppProcess[] = [];

  beforeAll(async () => {
    storageDir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-export-crash-'));
    stack = await startStack({
      worker: false,
      env: { STORAGE_DIR: storageDir, WORKER_LOCK_DURATION_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS) },
    });
    await sql(
      stack,
      `INSERT INTO tasks (id, tenant_id, type, queue, status, priority, payload, attempts, max_attempts, attempt_budget, timeout_ms, created_at, updated_at)
       SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'default', 'report.render', 'reports', 'completed', 5,
              jsonb_build_object('n', g), 1, 3, 3, 30000, now(), now()
       FROM generate_series(1, $1::bigint) AS g`,
      [ROWS],
    );
    await sql(stack, 'ANALYZE tasks');
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await stack?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('completes on the other worker with every row once and a single file', async () => {
    const ids = [uniqueName('worker-a'), uniqueName('worker-b')];
    for (const id of ids) workers.push(await stack.startWorker({ WORKER_ID: id, WORKER_HEALTH_PORT: String(await freePort()) }));

    const created = await http(stack.apiUrl, 'POST', '/v1/exports', { source: 'tasks', format: 'csv', filters: { type: 'report.render', fields: ['id'] } });
    expect(created.status).toBe(202);
    const running = await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', `/v1/tasks/${created.body.id}`);
        return body.status === 'active' && body.progress?.percent > 0 ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the export to be under way' },
    );
    expect(running.progress.percent).toBeLessThan(100);
    const victim = ids.indexOf(running.workerId);
    expect(await workers[victim].stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const done = await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', `/v1/exports/${created.body.id}`);
        return ['completed', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 90_000, what: 'the export to finish on the other worker' },
    );
    expect(done).toMatchObject({ status: 'completed', rows: ROWS });
    const task = (await http(stack.apiUrl, 'GET', `/v1/tasks/${created.body.id}`)).body;
    expect(task).toMatchObject({ attempts: 2, workerId: ids[1 - victim] });

    const text = await (await fetch(done.downloadUrl)).text();
    const lines = text.split('\r\n').slice(1, -1);
    expect(lines).toHaveLength(ROWS);
    expect(new Set(lines).size).toBe(ROWS);
    expect(lines[0]).toBe('00000000-0000-7000-8000-000000000001');

    // One registered file, the one the export names; the killed attempt's bytes never became a file.
    const files = await sql<{ id: string }>(stack, 'SELECT id FROM files WHERE task_id = $1', [created.body.id]);
    expect(files).toHaveLength(1);
    const complete = readdirSync(join(storageDir, 'default')).filter((name) => !name.includes('.part-'));
    expect(complete).toEqual([files[0].id]);
  }, 150_000);
});
