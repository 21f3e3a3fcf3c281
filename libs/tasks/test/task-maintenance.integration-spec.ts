import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { register } from 'prom-client';
import { DataSource, In, type Repository } from 'typeorm';
import { runMigrations } from '@conveyor/database';
import { FileEntity, FilesModule, FilesService } from '@conveyor/files';
import { METRIC } from '@conveyor/observability';
import { SYSTEM_QUEUE } from '@conveyor/system-tasks';
import { SystemTasksWorkerModule } from '@conveyor/system-tasks/worker';
import { SYSTEM_TENANT } from '@conveyor/http';
import {
  LostJobsRepository,
  MAINTENANCE_RUNS_KEPT,
  SYSTEM_RECONCILE,
  SYSTEM_RETENTION,
  TaskEntity,
  TaskFactory,
  TaskLedgerService,
  TasksCoreModule,
  type TaskStatus,
} from '@conveyor/tasks';
import { TaskProducer, TenantBacklog } from '@conveyor/tasks/api';
import { TaskReconciler, TaskRetention, TasksWorkerModule } from '@conveyor/tasks/worker';
import { createTestDatabase, deleteRedisPrefix, DIALECTS, TEST_REDIS_URL, uniqueName, waitFor, type TestDatabase } from '@conveyor/testing';
import { LedgerRetentionRepository } from '../src/worker/maintenance/ledger-retention.repository';

const TEN_MINUTES_AGO = () => new Date(Date.now() - 10 * 60_000);
const TWO_HOURS_AGO = () => new Date(Date.now() - 2 * 3600_000);

/**
 * The worker's housekeeping on real Redis and a real database: the reconciler puts back
 * jobs Redis lost, retention deletes old finished tasks and keeps the housekeeping runs by
 * count, and two passes at once do each thing once. One Nest context per dialect holds the
 * worker runtime (started only when a test wants tasks to run) and the API's producer, so
 * tasks enter the ledger and Redis exactly as through `POST /v1/tasks`. The schedules that
 * run these passes as tasks are tested in the schedules lib and end to end.
 */
describe.each(DIALECTS)('task maintenance on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let tasks: Repository<TaskEntity>;
  let queue: Queue;
  let storageDir: string;
  let producer: TaskProducer;
  let reconciler: TaskReconciler;
  let retention: TaskRetention;
  const savedEnv = { ...process.env };

  const enqueue = async (tenantId: string, requests: Array<Record<string, unknown>>) =>
    (await producer.enqueue(tenantId, requests as never)).tasks.map((task) => task.id);
  const row = (id: string) => tasks.findOneByOrFail({ id });
  const setRows = (ids: string[], change: Partial<Omit<TaskEntity, 'payload' | 'result' | 'pipeline'>>) => tasks.update({ id: In(ids) }, change);
  const requeuedCount = async () =>
    ((await register.getSingleMetric(METRIC.tasksRequeued)!.get()).values as Array<{ value: number }>).reduce((sum, v) => sum + v.value, 0);

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);

    prefix = uniqueName('it_maint');
    storageDir = mkdtempSync(join(tmpdir(), 'conveyor-maint-files-'));
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      WORKER_ID: `maint-${dialect}`,
      LOG_LEVEL: 'warn',
      // The tests call the passes themselves (no scheduler runs here anyway).
      RECONCILE_INTERVAL_MS: '0',
      RETENTION_INTERVAL_MS: '0',
      STORAGE_DIR: storageDir,
    });
    app = await Test.createTestingModule({
      imports: [TasksCoreModule, FilesModule, TasksWorkerModule, SystemTasksWorkerModule],
      providers: [TaskProducer, TenantBacklog],
    }).compile();
    // Compiled but not initialised: the BullMQ workers start only when a test calls init().
    tasks = app.get(DataSource).getRepository(TaskEntity);
    queue = app.get<Queue>(getQueueToken(SYSTEM_QUEUE), { strict: false });
    producer = app.get(TaskProducer);
    reconciler = app.get(TaskReconciler);
    retention = app.get(TaskRetention);
  });

  afterAll(async () => {
    await app?.close();
    register.clear(); // the next dialect's context registers the same metrics again
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('re-queues unfinished tasks whose jobs vanished from Redis, leaves the rest, and they complete', async () => {
    const tenant = 'reconcile';
    const [queued1, queued2, active, retrying, present] = await enqueue(tenant, [
      { type: 'system.noop', payload: {} },
      { type: 'system.sleep', payload: { ms: 10 }, priority: 2, tags: ['x'] },
      { type: 'system.sleep', payload: { ms: 10 }, maxAttempts: 3 },
      { type: 'system.sleep', payload: { ms: 10 }, maxAttempts: 3 },
      { type: 'system.noop', payload: {} },
    ]);
    const [scheduled] = await enqueue(tenant, [{ type: 'system.noop', payload: {}, delayMs: 3000, expiresInMs: 600_000 }]);
    const [young] = await enqueue(tenant, [{ type: 'system.noop', payload: {} }]);
    const [finished] = await enqueue(tenant, [{ type: 'system.noop', payload: {} }]);
    const [rerun] = await enqueue(tenant, [{ type: 'system.noop', payload: {} }]);
    const old = [queued1, queued2, active, retrying, present, scheduled, finished, rerun];
    await setRows(old, { updatedAt: TEN_MINUTES_AGO() });
    // A worker died while running attempt 1 of `active`; attempt 1 of `retrying` failed.
    await setRows([active], { status: 'active', attempts: 1, workerId: 'gone' });
    await setRows([retrying], { status: 'retrying', attempts: 1, error: { code: 'X', message: 'first failed' } });
    await setRows([finished], { status: 'completed', finishedAt: new Date() });

    // Redis loses every job (a flush); only `present` is there again.
    await queue.obliterate({ force: true });
    await queue.add('system.noop', { tenantId: tenant, payload: {}, timeoutMs: 1000 }, { jobId: present });
    // `rerun` was retried by hand, but only the earlier run's finished job reached Redis.
    await queue.add('system.noop', { tenantId: tenant, payload: {}, timeoutMs: 1000 }, { jobId: rerun });
    const redis = new Redis(TEST_REDIS_URL);
    await redis.hset(`${prefix}:${SYSTEM_QUEUE}:${rerun}`, 'finishedOn', String(Date.now() - 600_000)).finally(() => redis.disconnect());
    const metricBefore = await requeuedCount();

    const report = await reconciler.reconcileOnce();
    expect(report).toEqual({ scanned: 7, missing: 6, requeued: 6, endsRecorded: 0, flowsSettled: 0 });
    expect((await requeuedCount()) - metricBefore).toBe(6);
    expect((await queue.getJob(rerun))!.finishedOn).toBeUndefined();

    const job = async (id: string) => (await queue.getJob(id))!;
    expect(await queue.getJob(young)).toBeUndefined(); // too young: maybe an enqueue under way
    expect(await queue.getJob(finished)).toBeUndefined(); // finished: nothing to run
    expect((await job(queued2)).opts).toMatchObject({ priority: 2, attempts: 3 });
    expect((await job(queued2)).data).toEqual({ tenantId: tenant, payload: { ms: 10 }, timeoutMs: expect.any(Number) });
    expect((await job(queued1)).name).toBe('system.noop');
    // The unfinished attempt of `active` does not count; the failed one of `retrying` does.
    expect((await job(active)).opts.attempts).toBe(3);
    // ...but its start does: the re-run is the task's second start.
    expect((await job(active)).data.attemptOffset).toBe(1);
    expect((await job(retrying)).opts.attempts).toBe(2);
    expect((await job(retrying)).data.attemptOffset).toBe(1);
    const scheduledJob = await job(scheduled);
    expect(scheduledJob.opts.delay).toBeGreaterThan(0);
    expect(scheduledJob.opts.delay).toBeLessThanOrEqual(3000);
    expect(scheduledJob.data.expiresAt).toBe((await row(scheduled)).expiresAt!.getTime());

    expect((await row(active)).status).toBe('queued');
    expect((await row(retrying)).status).toBe('queued');
    expect((await row(scheduled)).status).toBe('scheduled');
    expect((await row(finished)).status).toBe('completed');

    // Re-queued rows are fresh again, and jobs exist: a second pass finds nothing to do.
    expect(await reconciler.reconcileOnce()).toEqual({ scanned: 1, missing: 0, requeued: 0, endsRecorded: 0, flowsSettled: 0 });

    await app.init(); // the worker starts consuming
    const requeued = [queued1, queued2, active, retrying, scheduled, present, rerun];
    const done = await waitFor(
      async () => {
        const rows = await tasks.findBy({ id: In(requeued) });
        return rows.every((r) => r.status === 'completed') ? rows : undefined;
      },
      { timeoutMs: 20_000, what: 're-queued tasks to complete' },
    );
    const byId = new Map(done.map((r) => [r.id, r]));
    expect(byId.get(active)!.attempts).toBe(2);
    expect(byId.get(retrying)!.attempts).toBe(2);
    expect(byId.get(scheduled)!.startedAt!.getTime()).toBeGreaterThanOrEqual(byId.get(scheduled)!.scheduledFor!.getTime());
    expect((await row(young)).status).toBe('queued');
  });

  it('two passes at once (a taken-over run, a trigger) re-queue each lost task once', async () => {
    const [a, b] = await enqueue('race', [
      { type: 'system.noop', payload: {}, delayMs: 3_600_000 },
      { type: 'system.noop', payload: {}, delayMs: 3_600_000 },
    ]);
    await setRows([a, b], { updatedAt: TEN_MINUTES_AGO() });
    await queue.remove(a);
    await queue.remove(b);
    const metricBefore = await requeuedCount();

    const reports = await Promise.all([reconciler.reconcileOnce(), reconciler.reconcileOnce(), reconciler.reconcileOnce()]);
    expect(reports.reduce((sum, r) => sum + r.requeued, 0)).toBe(2);
    expect((await requeuedCount()) - metricBefore).toBe(2);
    expect((await queue.getJob(a))!.opts.delay).toBeGreaterThan(0);
    expect((await queue.getJob(b))!.opts.delay).toBeGreaterThan(0);
  });

  it('leaves a row alone that changed after it was read: no re-queue over a finished task, no delete of a retried one', async () => {
    const repository = app.get(LostJobsRepository);
    const [finishing, retried] = await enqueue('guards', [
      { type: 'system.noop', payload: {}, delayMs: 3_600_000 },
      { type: 'system.noop', payload: {}, delayMs: 3_600_000 },
    ]);
    await setRows([finishing], { updatedAt: TEN_MINUTES_AGO() });
    const olderThan = new Date(Date.now() - 60_000);
    const [seen] = await repository.findStaleUnfinishedByIds([finishing], olderThan);
    expect(seen.status).toBe('scheduled');
    await setRows([finishing], { status: 'completed', finishedAt: new Date(), updatedAt: new Date() }); // a worker got there first
    expect(await repository.claimForRequeue(seen, olderThan, 'queued', new Date())).toBe(false);
    expect((await row(finishing)).status).toBe('completed');

    await setRows([retried], { status: 'failed', finishedAt: TWO_HOURS_AGO() });
    await setRows([retried], { status: 'queued' }); // retried between the purge's select and its delete
    expect(await app.get(LedgerRetentionRepository).deleteFinished([retried], olderThan)).toBe(0);
    expect((await row(retried)).status).toBe('queued');
  });

  it('retention deletes finished tasks older than the cutoff in batches of 500, with their jobs, and keeps the rest', async () => {
    const tenant = 'retention';
    const noops = (count: number, extra: Record<string, unknown> = {}) => Array.from({ length: count }, () => ({ type: 'system.noop', payload: {}, ...extra }));
    const oldIds = [...(await enqueue(tenant, noops(1000))), ...(await enqueue(tenant, noops(200)))];
    const youngIds = await enqueue(tenant, noops(5));
    const unfinishedIds = await enqueue(tenant, noops(2, { delayMs: 3_600_000 }));
    await waitFor(async () => (await tasks.countBy({ id: In([...oldIds, ...youngIds]), status: 'completed' })) === 1205, {
      timeoutMs: 30_000,
      what: 'the tasks to complete',
    });
    // Age the first 1200 and spread them over every finished state.
    const finishedStates: TaskStatus[] = ['completed', 'failed', 'cancelled', 'expired'];
    for (const [index, status] of finishedStates.entries()) {
      await setRows(
        oldIds.filter((_, i) => i % finishedStates.length === index),
        { status, finishedAt: TWO_HOURS_AGO() },
      );
    }
    // Unfinished rows with an old finished_at (as after a retry) are not finished: they stay.
    await setRows(unfinishedIds, { finishedAt: TWO_HOURS_AGO() });
    const jobsBefore = (await Promise.all(oldIds.map((id) => queue.getJob(id)))).filter(Boolean).length;
    expect(jobsBefore).toBeGreaterThan(900); // Redis still keeps the last 1000 completed jobs

    // Files go with their tasks: outputs of purged tasks, and uploads older than the cutoff.
    const files = app.get(FilesService);
    const fileRows = app.get(DataSource).getRepository(FileEntity);
    const oldOutput = await files.storeBuffer(tenant, Buffer.from('old output'), { kind: 'output', taskId: oldIds[0] });
    const youngOutput = await files.storeBuffer(tenant, Buffer.from('young output'), { kind: 'output', taskId: youngIds[0] });
    const oldUpload = await files.storeBuffer(tenant, Buffer.from('old upload'), { kind: 'upload' });
    const youngUpload = await files.storeBuffer(tenant, Buffer.from('young upload'), { kind: 'upload' });
    await fileRows.update({ id: oldUpload.id }, { createdAt: TWO_HOURS_AGO() });

    const report = await retention.purgeOnce({ finishedBefore: new Date(Date.now() - 60_000) });
    expect(report).toEqual({ deleted: 1200, batches: [500, 500, 200], maintenanceRunsDeleted: 0, filesDeleted: 1 });
    expect((await fileRows.findBy({ id: In([oldOutput.id, youngOutput.id, oldUpload.id, youngUpload.id]) })).map((f) => f.id).sort()).toEqual(
      [youngOutput.id, youngUpload.id].sort(),
    );
    await expect(files.open(oldOutput)).rejects.toThrow();
    await expect(files.open(oldUpload)).rejects.toThrow();
    expect(await files.open(youngOutput)).toBeDefined();

    expect(await tasks.countBy({ id: In(oldIds) })).toBe(0);
    expect(await tasks.countBy({ id: In(youngIds), status: 'completed' })).toBe(5);
    expect((await tasks.findBy({ id: In(unfinishedIds) })).map((r) => r.status)).toEqual(['scheduled', 'scheduled']);
    expect((await Promise.all(oldIds.map((id) => queue.getJob(id)))).filter(Boolean)).toHaveLength(0);
    expect(await queue.getJob(youngIds[0])).toBeDefined();
    expect(await queue.getJob(unfinishedIds[0])).toBeDefined();

    expect(await retention.purgeOnce({ finishedBefore: new Date(Date.now() - 60_000) })).toEqual({
      deleted: 0,
      batches: [],
      maintenanceRunsDeleted: 0,
      filesDeleted: 0,
    });
  });

  it('keeps the latest MAINTENANCE_RUNS_KEPT runs of each housekeeping type whatever their age, and deletes older finished ones', async () => {
    // Rows as the system schedules' ticks write them (no jobs: only the ledger matters here).
    const factory = app.get(TaskFactory);
    const runs = async (type: string, count: number, status: TaskStatus) => {
      const prepared = await factory.prepare(
        SYSTEM_TENANT,
        Array.from({ length: count }, () => ({ type, payload: {} })),
      );
      const rows = prepared.map(({ row }) => Object.assign(row, { status, finishedAt: status === 'queued' ? null : TWO_HOURS_AGO() }));
      for (let i = 0; i < rows.length; i += 500) await app.get(TaskLedgerService).insert(rows.slice(i, i + 500));
      return rows.map((row) => row.id);
    };
    const reconciles = await runs(SYSTEM_RECONCILE.type, MAINTENANCE_RUNS_KEPT + 7, 'completed');
    const [unfinished] = await runs(SYSTEM_RECONCILE.type, 1, 'queued');
    const retentions = await runs(SYSTEM_RETENTION.type, 3, 'failed');
    // Ids are time-ordered: the first ones written are the oldest runs, and one unfinished run is newer than all.
    await setRows([reconciles[0]], { status: 'queued', finishedAt: null });

    const report = await retention.purgeOnce({ finishedBefore: new Date(Date.now() - 60_000) });
    // 1448 reconcile rows: the newest 1440 stay (the unfinished one among them); of the 8 older,
    // the unfinished one stays too. Retention runs are far under the count: none goes, old as they are.
    expect(report).toMatchObject({ deleted: 0, maintenanceRunsDeleted: 7 });
    const left = new Set((await tasks.findBy({ tenantId: SYSTEM_TENANT })).map((row) => row.id));
    expect(reconciles.slice(0, 8).filter((id) => left.has(id))).toEqual([reconciles[0]]);
    expect(reconciles.slice(8).every((id) => left.has(id))).toBe(true);
    expect(left.has(unfinished)).toBe(true);
    expect(retentions.every((id) => left.has(id))).toBe(true);
    expect((await retention.purgeOnce({ finishedBefore: new Date(Date.now() - 60_000) })).maintenanceRunsDeleted).toBe(0);
    await tasks.delete({ tenantId: SYSTEM_TENANT });
  });

  it('no tenant may create a housekeeping task: it is an unknown type to them', async () => {
    await expect(enqueue('acme', [{ type: SYSTEM_RECONCILE.type, payload: {} }])).rejects.toMatchObject({ code: 'UNKNOWN_TASK_TYPE' });
  });
});
