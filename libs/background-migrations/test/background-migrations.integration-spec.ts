import { Test, type TestingModule } from '@nestjs/testing';
import pino from 'pino';
import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import { runMigrations, type SqlDialect } from '@conveyor/database';
import type { DomainError } from '@conveyor/errors';
import { STATUS_BY_KIND } from '@conveyor/http';
import { FlowSettler, TaskEntity, TasksCoreModule } from '@conveyor/tasks';
import { TaskStateWriter } from '@conveyor/tasks/worker';
import { createTestDatabase, deleteRedisPrefix, DIALECTS, taskRow, TEST_REDIS_URL, uniqueName, type TestDatabase } from '@conveyor/testing';
import {
  BackgroundMigrationBatchEntity,
  BackgroundMigrationEntity,
  BackgroundMigrationsService,
  defineBackgroundMigration,
  TASK_DURATION_BACKFILL,
  type BackgroundMigrationDefinition,
  type MigrationContext,
  type MigrationBatch,
} from '@conveyor/background-migrations';
import { BackgroundMigrationsWorkerModule, MigrationRunner, type StepOutcome } from '@conveyor/background-migrations/worker';

const ROWS = 20_000;
const quiet = pino({ level: 'silent' });
const never = new AbortController().signal;

/** Adds 1 to `counter` of every row of the batch: a row processed twice would show 2, one skipped 0. */
async function increment(batch: MigrationBatch, { manager, dialect }: MigrationContext): Promise<void> {
  const p = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const range = batch.after === null ? `id <= ${p(1)}` : `id > ${p(1)} AND id <= ${p(2)}`;
  await manager.query(`UPDATE bgm_items SET counter = counter + 1 WHERE ${range}`, batch.after === null ? [batch.last] : [batch.after, batch.last]);
}

const COUNTER = defineBackgroundMigration({
  name: 'test.counter',
  description: 'counts visits',
  source: { table: 'bgm_items', key: 'id' },
  batchSize: 1000,
  up: increment,
});
const THROTTLED = defineBackgroundMigration({
  name: 'test.throttled',
  description: 'counts visits, slowly',
  source: { table: 'bgm_items', key: 'id', where: 'id <= 3000' },
  batchSize: 1000,
  pauseMs: 150,
  maxRowsPerSecond: 5000,
  up: increment,
});
/** Fails while `failing.on` is set, after its own writes: those must roll back with the batch. */
const failing = { on: false };
const FLAKY = defineBackgroundMigration({
  name: 'test.flaky',
  description: 'fails on demand',
  source: { table: 'bgm_items', key: 'id' },
  batchSize: 5000,
  maxConsecutiveFailures: 2,
  async up(batch, context) {
    await increment(batch, context);
    if (failing.on && batch.number === 2) throw new Error('disk on fire');
  },
});

async function fillItems(dataSource: DataSource, dialect: SqlDialect, rows: number): Promise<void> {
  await dataSource.query('DROP TABLE IF EXISTS bgm_items');
  await dataSource.query('CREATE TABLE bgm_items (id int PRIMARY KEY, counter int NOT NULL DEFAULT 0)');
  if (dialect === 'postgres') await dataSource.query(`INSERT INTO bgm_items (id) SELECT g FROM generate_series(1, ${rows}) AS g`);
  else await dataSource.query(`INSERT INTO bgm_items (id) SELECT seq FROM seq_1_to_${rows}`);
}

/**
 * Background migrations on a real database: the batch transaction (work and checkpoint
 * together), two runners of one migration at once, pause / resume / retry and their refusals,
 * throttling seen in the batch log, the watch, and the shipped `tasks.duration-ms` backfill
 * with the ledger writer filling `duration_ms` itself.
 */
describe.each(DIALECTS)('background migrations on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let dataSource: DataSource;
  let service: BackgroundMigrationsService;
  let runner: MigrationRunner;
  const savedEnv = { ...process.env };

  const state = (name: string) => dataSource.getRepository(BackgroundMigrationEntity).findOneByOrFail({ name });
  const batches = (name: string) => dataSource.getRepository(BackgroundMigrationBatchEntity).find({ where: { migration: name }, order: { number: 'ASC' } });
  const counters = async () =>
    (
      await dataSource.query<Array<{ c: number; n: string | number }>>('SELECT counter AS c, COUNT(*) AS n FROM bgm_items GROUP BY counter ORDER BY counter')
    ).map((r) => [Number(r.c), Number(r.n)]);
  /** Runs the chain's steps one after the other, as the worker would, until it stops. */
  async function drive(definition: BackgroundMigrationDefinition, generation: number, limit = Infinity): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    while (outcomes.length < limit) {
      const outcome = await runner.step(definition, generation, never, quiet);
      outcomes.push(outcome);
      if (outcome.outcome !== 'batch') break;
    }
    return outcomes;
  }
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: DomainError) => ({ status: STATUS_BY_KIND[error.kind], code: error.code }),
    );

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    prefix = uniqueName('it_bgm');
    Object.assign(process.env, { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' });
    app = await Test.createTestingModule({ imports: [TasksCoreModule, BackgroundMigrationsWorkerModule] }).compile();
    dataSource = app.get(DataSource);
    service = app.get(BackgroundMigrationsService);
    runner = app.get(MigrationRunner);
  });

  beforeEach(async () => {
    await fillItems(dataSource, dialect, ROWS);
    await dataSource.getRepository(BackgroundMigrationEntity).createQueryBuilder().delete().execute();
    await dataSource.getRepository(BackgroundMigrationBatchEntity).createQueryBuilder().delete().execute();
    await dataSource.getRepository(TaskEntity).createQueryBuilder().delete().execute();
  });

  afterAll(async () => {
    await app?.close();
    register.clear();
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('processes every row exactly once, one committed batch after the other, and queues the first step in the ledger', async () => {
    const started = await service.apply(COUNTER.name, 'start');
    expect(started.row).toMatchObject({ status: 'running', generation: 1 });
    const steps = await dataSource.getRepository(TaskEntity).findBy({ type: 'system.background-migration' });
    expect(steps.map((s) => ({ tenantId: s.tenantId, status: s.status, payload: s.payload }))).toEqual([
      { tenantId: 'system', status: 'queued', payload: { name: COUNTER.name, generation: 1 } },
    ]);

    const outcomes = await drive(COUNTER, 1);
    expect(outcomes.filter((o) => o.outcome === 'batch')).toHaveLength(ROWS / 1000);
    expect(outcomes[outcomes.length - 1]).toEqual({ outcome: 'completed' });
    expect(await counters()).toEqual([[1, ROWS]]);
    expect(await state(COUNTER.name)).toMatchObject({
      status: 'completed',
      rowsProcessed: ROWS,
      rowsTotal: ROWS,
      batches: ROWS / 1000,
      checkpoint: String(ROWS),
    });
    const log = await batches(COUNTER.name);
    expect(log.map((b) => [b.cursorFrom, b.cursorTo, b.rowCount])).toEqual(
      Array.from({ length: ROWS / 1000 }, (_, i) => [i === 0 ? null : String(i * 1000), String((i + 1) * 1000), 1000]),
    );
    // A late step of the finished chain changes nothing.
    expect(await runner.step(COUNTER, 1, never, quiet)).toEqual({ outcome: 'not-running' });
  });

  it('never lets two runners of one migration overlap: their batches take turns on the locked row', async () => {
    await service.apply(COUNTER.name, 'start');
    // Two workers running the same step at once (a lock lost and the job taken over), many times.
    const both = await Promise.all([drive(COUNTER, 1), drive(COUNTER, 1)]);
    expect(both.flat().filter((o) => o.outcome === 'batch')).toHaveLength(ROWS / 1000);
    expect(await counters()).toEqual([[1, ROWS]]);
    const log = await batches(COUNTER.name);
    for (let i = 1; i < log.length; i += 1) {
      expect(log[i].cursorFrom).toBe(log[i - 1].cursorTo);
      expect(log[i].startedAt.getTime()).toBeGreaterThanOrEqual(log[i - 1].finishedAt.getTime());
    }
  });

  it('pauses, resumes from the checkpoint with a new chain, and refuses what the state does not allow', async () => {
    expect(await refusal(service.apply('test.nothing', 'start'))).toEqual({ status: 404, code: 'BACKGROUND_MIGRATION_NOT_FOUND' });
    expect(await refusal(service.apply(COUNTER.name, 'pause'))).toEqual({ status: 409, code: 'MIGRATION_WRONG_STATE' });
    await service.apply(COUNTER.name, 'start');
    await drive(COUNTER, 1, 5);
    expect(await refusal(service.apply(COUNTER.name, 'start'))).toEqual({ status: 409, code: 'MIGRATION_WRONG_STATE' });
    expect(await refusal(service.apply(COUNTER.name, 'resume'))).toEqual({ status: 409, code: 'MIGRATION_WRONG_STATE' });
    expect((await service.apply(COUNTER.name, 'pause')).row).toMatchObject({ status: 'paused', batches: 5 });
    expect(await runner.step(COUNTER, 1, never, quiet)).toEqual({ outcome: 'not-running' });
    expect(await state(COUNTER.name)).toMatchObject({ batches: 5, rowsProcessed: 5000 });

    const resumed = await service.apply(COUNTER.name, 'resume');
    expect(resumed.row).toMatchObject({ status: 'running', generation: 2 });
    // The old chain's next step finds itself superseded.
    expect(await runner.step(COUNTER, 1, never, quiet)).toEqual({ outcome: 'superseded' });
    await drive(COUNTER, 2);
    expect(await counters()).toEqual([[1, ROWS]]);
    expect(await refusal(service.apply(COUNTER.name, 'pause'))).toEqual({ status: 409, code: 'MIGRATION_FINISHED' });
    expect(await refusal(service.apply(COUNTER.name, 'retry'))).toEqual({ status: 409, code: 'MIGRATION_FINISHED' });
  });

  it('rolls a failed batch back, fails the migration at its limit, and a retry finishes it with every row once', async () => {
    failing.on = true;
    await service.apply(FLAKY.name, 'start');
    expect(await drive(FLAKY, 1, 1)).toMatchObject([{ outcome: 'batch' }]);
    await expect(runner.step(FLAKY, 1, never, quiet)).rejects.toThrow('disk on fire');
    expect(await runner.recordFailure(FLAKY, 1, new Error('disk on fire'))).toEqual({ outcome: 'failed-batch', nextInMs: 1000 });
    await expect(runner.step(FLAKY, 1, never, quiet)).rejects.toThrow('disk on fire');
    expect(await runner.recordFailure(FLAKY, 1, new Error('disk on fire'))).toEqual({ outcome: 'failed' });
    expect(await state(FLAKY.name)).toMatchObject({ status: 'failed', batches: 1, failures: 2, lastError: { message: 'disk on fire', batch: 2 } });
    expect(await counters()).toEqual([
      [0, ROWS - 5000],
      [1, 5000],
    ]);
    expect(await refusal(service.apply(FLAKY.name, 'pause'))).toEqual({ status: 409, code: 'MIGRATION_WRONG_STATE' });

    failing.on = false;
    expect((await service.apply(FLAKY.name, 'retry')).row).toMatchObject({ status: 'running', generation: 2, consecutiveFailures: 0 });
    await drive(FLAKY, 2);
    expect(await counters()).toEqual([[1, ROWS]]);
    expect(await state(FLAKY.name)).toMatchObject({ status: 'completed', failures: 2, rowsProcessed: ROWS });
  });

  it('keeps at least pauseMs (and the rate limit) between batches, as the batch log records them', async () => {
    await service.apply(THROTTLED.name, 'start');
    const outcomes = await drive(THROTTLED, 1);
    expect(outcomes.filter((o) => o.outcome === 'batch')).toHaveLength(3);
    const log = await batches(THROTTLED.name);
    for (let i = 1; i < log.length; i += 1) {
      // 1000 rows at 5000 rows/s: at least 200 ms per batch, start to start; and pauseMs between.
      expect(log[i].startedAt.getTime() - log[i - 1].finishedAt.getTime()).toBeGreaterThanOrEqual(THROTTLED.pauseMs);
      expect(log[i].startedAt.getTime() - log[i - 1].startedAt.getTime()).toBeGreaterThanOrEqual(200);
    }
    expect(await counters()).toEqual([
      [0, ROWS - 3000],
      [1, 3000],
    ]);
  });

  it('restarts a running migration whose chain is gone, under a new generation', async () => {
    await service.apply(COUNTER.name, 'start');
    await drive(COUNTER, 1, 2);
    expect(await runner.restartStalled()).toEqual([]);
    // Its next step vanished (cancelled by hand) long ago.
    await dataSource.getRepository(BackgroundMigrationEntity).update({ name: COUNTER.name }, { nextStepAt: new Date(Date.now() - 3_600_000) });
    expect(await runner.restartStalled()).toEqual([{ name: COUNTER.name, generation: 2 }]);
    expect(await runner.step(COUNTER, 1, never, quiet)).toEqual({ outcome: 'superseded' });
    await drive(COUNTER, 2);
    expect(await counters()).toEqual([[1, ROWS]]);
  });

  it('backfills tasks.duration_ms, and the ledger writer fills it on terminal writes', async () => {
    const tasks = dataSource.getRepository(TaskEntity);
    const start = new Date('2026-01-01T00:00:00.000Z');
    const finished = Array.from({ length: 30 }, (_, i) =>
      taskRow({ status: 'completed', startedAt: start, finishedAt: new Date(start.getTime() + 1000 * i + 7) }),
    );
    const running = taskRow({ status: 'active', startedAt: start });
    await tasks.insert([...finished, running].map((row) => ({ ...row }) as never));
    await service.apply(TASK_DURATION_BACKFILL.name, 'start');
    const outcomes = await drive(TASK_DURATION_BACKFILL, 1);
    expect(outcomes.map((o) => o.outcome)).toEqual(['batch', 'completed']);
    const durations = async (ids: string[]) =>
      (
        await dataSource.query<Array<{ d: string | number | null }>>(
          `SELECT id, duration_ms AS d FROM tasks WHERE id IN (${ids.map((id) => `'${id}'`).join(',')}) ORDER BY id`,
        )
      ).map((r) => (r.d === null ? null : Number(r.d)));
    expect(await durations(finished.map((t) => t.id))).toEqual(finished.map((_, i) => 1000 * i + 7));
    expect(await durations([running.id])).toEqual([null]);

    const writer = new TaskStateWriter(dataSource, app.get(FlowSettler));
    await writer.write(running.id, { status: 'completed', result: null, finishedAt: new Date(start.getTime() + 4321) });
    expect(await durations([running.id])).toEqual([4321]);
    // A retry's new start clears it until the next end.
    await writer.write(running.id, { status: 'active', startedAt: new Date(), finishedAt: null });
    expect(await durations([running.id])).toEqual([null]);
  });
});
