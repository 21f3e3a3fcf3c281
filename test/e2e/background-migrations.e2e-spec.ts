import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, type SqlDialect } from '@conveyor/database';
import { waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, type Stack } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const FIXTURE = join(__dirname, 'fixtures', 'counter-migration.js');
/** A million rows on both: about 15 s a run here (2 cores), kills and restarts included. */
const ROWS = 1_000_000;
const BATCH = 10_000;
const BASE = '/v1/admin/background-migrations';

/**
 * A background migration on the built apps, with its worker killed (SIGKILL) twice mid-run:
 * `test.counter` (test/e2e/fixtures/counter-migration.js, preloaded into the API and the
 * workers) adds 1 to a counter of every row it processes, so the end state shows every row
 * processed exactly once, and the batch log shows one unbroken chain of checkpoints.
 */
describe.each<SqlDialect>(['postgres', 'mysql'])('background migrations on %s', (dialect) => {
  let stack: Stack;
  let db: DataSource;
  // The million rows once (PostgreSQL); MariaDB proves the same with a fifth of them, which keeps
  // the suite's time in bounds (the batch and checkpoint SQL is dialect-tested in the integration suite).
  const rows = dialect === 'postgres' ? ROWS : ROWS / 5;
  const view = async (name = 'test.counter') => (await http(stack.apiUrl, 'GET', `${BASE}/${name}`)).body;
  const killed = async (worker: AppProcess) => {
    worker.child.kill('SIGKILL');
    expect((await worker.exited).signal).toBe('SIGKILL');
  };
  /** Waits until the migration has committed at least `batches` batches. */
  const batchesAtLeast = (batches: number) =>
    waitFor(
      async () => {
        const current = await view();
        return current.batches >= batches ? current : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${batches} batches` },
    );

  beforeAll(async () => {
    stack = await startStack({
      dialect,
      worker: false,
      env: {
        NODE_OPTIONS: `--require ${FIXTURE}`,
        TEST_MIGRATION_BATCH_SIZE: String(BATCH),
        WORKER_LOCK_DURATION_MS: String(LOCK_MS),
        WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS),
      },
    });
    db = new DataSource(buildDataSourceOptions(stack.database.config));
    await db.initialize();
    await db.query('CREATE TABLE bgm_items (id int PRIMARY KEY, counter int NOT NULL DEFAULT 0)');
    if (dialect === 'postgres') await db.query(`INSERT INTO bgm_items (id) SELECT g FROM generate_series(1, ${rows}) AS g`);
    else await db.query(`INSERT INTO bgm_items (id) SELECT seq FROM seq_1_to_${rows}`);
  }, 120_000);

  afterAll(async () => {
    await db?.destroy();
    await stack?.stop();
  });

  it('finishes with every row processed exactly once although its worker is killed twice mid-run', async () => {
    const began = Date.now();
    let worker = await stack.startWorker();
    const started = await http(stack.apiUrl, 'POST', `${BASE}/test.counter/start`);
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ name: 'test.counter', status: 'running', declared: true, batchSize: BATCH });

    const total = rows / BATCH;
    for (const fraction of [0.2, 0.5]) {
      // Mid-run: some batches committed, most not; the next one is under way or about to be.
      await batchesAtLeast(Math.ceil(total * fraction));
      await killed(worker);
      worker = await stack.startWorker();
    }
    const done = await waitFor(
      async () => {
        const current = await view();
        return current.status === 'completed' ? current : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'the migration to complete' },
    );
    const seconds = (Date.now() - began) / 1000;

    const counters = (await db.query<Array<{ c: number; n: string | number }>>('SELECT counter AS c, COUNT(*) AS n FROM bgm_items GROUP BY counter')).map(
      (r) => [Number(r.c), Number(r.n)],
    );
    expect(counters).toEqual([[1, rows]]);
    expect(done).toMatchObject({ rowsProcessed: rows, rowsTotal: rows, batches: total, percent: 100, etaSeconds: 0, stalled: false, failures: 0 });
    const log = await db.query<Array<{ f: string | null; t: string; n: number }>>(
      'SELECT cursor_from AS f, cursor_to AS t, row_count AS n FROM background_migration_batches ORDER BY number',
    );
    expect(log).toHaveLength(total);
    log.forEach((batch, i) => {
      expect(batch.f).toBe(i === 0 ? null : log[i - 1].t);
      expect(Number(batch.n)).toBe(BATCH);
    });
    // The steps are ordinary system tasks: every one ended, none is left waiting.
    const steps = await db.query<Array<{ status: string; n: string | number }>>(
      "SELECT status, COUNT(*) AS n FROM tasks WHERE type = 'system.background-migration' GROUP BY status",
    );
    expect(steps.map((s) => s.status)).toEqual(['completed']);
    console.log(`background migration on ${dialect}: ${rows} rows, ${total} batches, 2 kills, ${seconds.toFixed(1)} s`);
  }, 240_000);

  it('answers bad requests with codes, and shows progress and metrics', async () => {
    expect(await http(stack.apiUrl, 'GET', `${BASE}/test.nothing`)).toMatchObject({ status: 404, body: { error: { code: 'BACKGROUND_MIGRATION_NOT_FOUND' } } });
    expect(await http(stack.apiUrl, 'POST', `${BASE}/test.nothing/start`)).toMatchObject({
      status: 404,
      body: { error: { code: 'BACKGROUND_MIGRATION_NOT_FOUND' } },
    });
    expect(await http(stack.apiUrl, 'POST', `${BASE}/test.counter/pause`)).toMatchObject({ status: 409, body: { error: { code: 'MIGRATION_FINISHED' } } });
    expect(await http(stack.apiUrl, 'POST', `${BASE}/tasks.duration-ms/resume`)).toMatchObject({
      status: 409,
      body: { error: { code: 'MIGRATION_WRONG_STATE', details: [{ field: 'status', message: 'pending' }] } },
    });
    expect(await http(stack.apiUrl, 'GET', BASE, undefined, { authorization: '' })).toMatchObject({ status: 401 });

    // The shipped backfill, on this stack's ledger (the steps above are finished tasks): started,
    // paused and resumed through the API, and done.
    const list = (await http(stack.apiUrl, 'GET', BASE)).body;
    expect(list.migrations.map((m: { name: string }) => m.name)).toEqual(['tasks.duration-ms', 'test.counter']);
    expect((await http(stack.apiUrl, 'POST', `${BASE}/tasks.duration-ms/start`)).body.status).toBe('running');
    const paused = await http(stack.apiUrl, 'POST', `${BASE}/tasks.duration-ms/pause`);
    if (paused.status === 200) {
      expect(paused.body.status).toBe('paused');
      expect((await http(stack.apiUrl, 'POST', `${BASE}/tasks.duration-ms/resume`)).body.status).toBe('running');
    } else {
      // It finished first (a small ledger): pausing a finished one is refused.
      expect(paused.body.error.code).toBe('MIGRATION_FINISHED');
    }
    await waitFor(async () => (await view('tasks.duration-ms')).status === 'completed', { what: 'the backfill to complete' });
    const missing = await db.query<Array<{ n: string | number }>>(
      'SELECT COUNT(*) AS n FROM tasks WHERE finished_at IS NOT NULL AND started_at IS NOT NULL AND duration_ms IS NULL',
    );
    expect(Number(missing[0].n)).toBe(0);

    // The worker that finished the run (the third: it took the stack's health port) counted its share.
    const metrics = (await http(stack.workerUrl, 'GET', '/metrics')).body as string;
    const value = (name: string) => Number(new RegExp(`^${name}\\{migration="test.counter"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(value('conveyor_background_migration_rows_total')).toBeGreaterThan(0);
    expect(value('conveyor_background_migration_rows_total')).toBe(value('conveyor_background_migration_batches_total') * BATCH);
  }, 60_000);
});
