import { Test, type TestingModule } from '@nestjs/testing';
import { register } from 'prom-client';
import { DataSource, In, type Repository } from 'typeorm';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { runMigrations } from '@conveyor/database';
import type { DomainError } from '@conveyor/errors';
import { STATUS_BY_KIND } from '@conveyor/http';
import { METRIC, TaskMetrics } from '@conveyor/observability';
import { SYSTEM_TASK_TYPES } from '@conveyor/system-tasks';
import {
  defineTaskType,
  JobRelay,
  LostJobRequeuer,
  MAINTENANCE_TASK_TYPES,
  TaskContractsModule,
  TaskEntity,
  TaskFactory,
  TaskLedgerService,
  TaskTypeRegistry,
  TasksCoreModule,
} from '@conveyor/tasks';
import { createTestDatabase, deleteRedisPrefix, DIALECTS, TEST_REDIS_URL, uniqueName, type TestDatabase } from '@conveyor/testing';
import {
  CLOCK,
  DeclaredSchedules,
  ScheduleDefinitions,
  ScheduleEntity,
  ScheduleRunner,
  SchedulesCoreModule,
  SchedulesService,
  ScheduleStore,
  SYSTEM_TENANT,
  type Clock,
  type ScheduleInput,
} from '@conveyor/schedules';

class TickPayload {}

/** A task type that declares a schedule, as a domain's contract file would. */
const declaredType = (schedules: Array<{ id: string; cron?: string; everyMs?: number; timezone?: string }>) =>
  defineTaskType<TickPayload, void>({
    type: 'test.tick',
    queue: 'system',
    description: 'declares schedules',
    payload: TickPayload,
    schedules: schedules.map((s) => ({ ...s, payload: {} })),
  });
const TICK_V1 = declaredType([
  { id: 'hourly', cron: '0 * * * *' },
  { id: 'often', everyMs: 60_000 },
]);

const at = (iso: string) => new Date(iso).getTime();

/**
 * The schedule engine on real Redis and a real database, driven by an injected clock: several
 * runners racing on one schedule, the overlap and missed policies, both Berlin DST changes,
 * and the reconcile of code-declared schedules.
 */
describe.each(DIALECTS)('schedules on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let tasks: Repository<TaskEntity>;
  let schedules: Repository<ScheduleEntity>;
  let service: SchedulesService;
  let runner: ScheduleRunner;
  const clock: Clock & { t: number } = { t: at('2026-01-05T10:00:00Z'), now: () => clock.t };
  const savedEnv = { ...process.env };

  /** Another runner in this process, with its own state, like another worker's. */
  const anotherRunner = () =>
    new ScheduleRunner(
      app.get(APP_CONFIG),
      false,
      clock,
      app.get(ScheduleStore),
      app.get(TaskFactory),
      app.get(TaskLedgerService),
      app.get(JobRelay),
      app.get(TaskMetrics),
      app.get(DeclaredSchedules),
      app.get(LostJobRequeuer),
    );
  const runsOf = async (scheduleId: string) => (await tasks.find({ where: { scheduleId }, order: { scheduleTick: 'ASC' } })).map((t) => ({ ...t }));
  const ticksOf = async (scheduleId: string) => (await runsOf(scheduleId)).map((t) => t.scheduleTick!.toISOString());
  const tickCount = async (labels: Record<string, string>) =>
    ((await register.getSingleMetric(METRIC.scheduleTicks)!.get()).values as Array<{ labels: Record<string, string>; value: number }>)
      .filter((v) => Object.entries(labels).every(([name, value]) => v.labels[name] === value))
      .reduce((sum, v) => sum + v.value, 0);
  const create = (input: Partial<ScheduleInput>, tenant = 'acme') => service.create(tenant, { task: { type: 'system.noop', payload: {} }, ...input });

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    prefix = uniqueName('it_sched');
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      SCHEDULER_MISSED_GRACE_MS: '5000',
    });
    app = await Test.createTestingModule({
      imports: [
        TasksCoreModule,
        TaskContractsModule.forFeature([...SYSTEM_TASK_TYPES, ...MAINTENANCE_TASK_TYPES, TICK_V1]),
        SchedulesCoreModule.forApp({ runByDefault: false }),
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    // Compiled, not initialised: the runner's own timer stays off; tests call runOnce().
    tasks = app.get(DataSource).getRepository(TaskEntity);
    schedules = app.get(DataSource).getRepository(ScheduleEntity);
    service = app.get(SchedulesService);
    runner = app.get(ScheduleRunner);
  });

  // Each test's schedules only: an earlier test's would fire as the clock moves on.
  beforeEach(async () => {
    await schedules.createQueryBuilder().delete().execute();
  });

  afterAll(async () => {
    await app?.close();
    register.clear();
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('three runners racing on the same due ticks create exactly one task per tick, none missing', async () => {
    clock.t = at('2026-01-05T10:00:00Z');
    const schedule = await create({ everyMs: 1000, missed: 'catch-up' });
    const runners = [runner, anotherRunner(), anotherRunner()];
    let fired = 0;
    let duplicate = 0;
    for (let step = 0; step < 25; step++) {
      clock.t += step % 5 === 4 ? 2300 : 700; // sometimes two ticks come due at once
      const reports = await Promise.all(runners.map((r) => r.runOnce()));
      fired += reports.reduce((sum, r) => sum + r.fired, 0);
      duplicate += reports.reduce((sum, r) => sum + r.duplicate, 0);
    }
    const expected: string[] = [];
    for (let tick = at('2026-01-05T10:00:01Z'); tick <= clock.t; tick += 1000) expected.push(new Date(tick).toISOString());
    expect(await ticksOf(schedule.id)).toEqual(expected);
    expect(fired).toBe(expected.length);
    // The race did happen: the database refused the losers' rows.
    expect(duplicate).toBeGreaterThan(0);
    const row = await schedules.findOneByOrFail({ id: schedule.id });
    expect(row.nextRunAt!.getTime()).toBeGreaterThan(clock.t);
    expect(row.lastTickAt!.toISOString()).toBe(expected[expected.length - 1]);
  });

  it('a tick whose row was written by a process that died before advancing the schedule is not fired twice', async () => {
    clock.t = at('2026-01-06T10:00:00Z');
    const schedule = await create({ everyMs: 1000 });
    clock.t += 1200;
    // The dead process got as far as the ledger row for the tick at +1 s.
    const [prepared] = await app.get(TaskFactory).prepare('acme', [{ type: 'system.noop', payload: {} }], {
      scheduleId: schedule.id,
      scheduleTick: schedule.nextRunAt!,
    });
    await app.get(TaskLedgerService).insert([prepared.row]);
    const report = await runner.runOnce();
    expect(report).toMatchObject({ fired: 0, duplicate: 1 });
    const runs = await runsOf(schedule.id);
    expect(runs.map((r) => r.id)).toEqual([prepared.row.id]);
    expect((await schedules.findOneByOrFail({ id: schedule.id })).nextRunAt!.toISOString()).toBe('2026-01-06T10:00:02.000Z');
  });

  it('overlap skip: no new run while the previous one is unfinished', async () => {
    clock.t = at('2026-01-07T10:00:00Z');
    const schedule = await create({ everyMs: 1000, overlap: 'skip' });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1);
    clock.t += 1000;
    expect(await runner.runOnce()).toMatchObject({ fired: 0, overlap: 1 });
    await tasks.update({ scheduleId: schedule.id }, { status: 'completed', finishedAt: new Date() });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1);
    expect(await ticksOf(schedule.id)).toEqual(['2026-01-07T10:00:01.000Z', '2026-01-07T10:00:03.000Z']);
  });

  it('overlap skip: a run whose job Redis lost is re-queued by the tick it blocks, so the schedule goes on', async () => {
    clock.t = at('2026-01-07T12:00:00Z');
    const schedule = await create({ everyMs: 1000, overlap: 'skip' });
    const queue = app.get<Queue>(getQueueToken('system'), { strict: false });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1);
    const [run] = await runsOf(schedule.id);
    expect(await queue.getJob(run.id)).toBeDefined();
    // Redis loses the job (a flush); nothing else would ever add it for a schedule that re-adds
    // lost jobs itself (the reconciler's own).
    await queue.remove(run.id);
    clock.t += 1000;
    // Too young to judge: the run may be an add still under way. Skipped, left alone.
    expect(await runner.runOnce()).toMatchObject({ fired: 0, overlap: 1 });
    expect(await queue.getJob(run.id)).toBeUndefined();
    await tasks.update({ id: run.id }, { updatedAt: new Date(Date.now() - 10 * 60_000) });
    clock.t += 1000;
    expect(await runner.runOnce()).toMatchObject({ fired: 0, overlap: 1 });
    expect((await queue.getJob(run.id))!.name).toBe('system.noop');
    expect((await tasks.findOneByOrFail({ id: run.id })).status).toBe('queued');
    // Once it has run, the next tick fires.
    await tasks.update({ id: run.id }, { status: 'completed', finishedAt: new Date() });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1);
    expect(await tickCount({ schedule: schedule.id, outcome: 'fired' })).toBe(2);
    expect(await tickCount({ schedule: schedule.id, outcome: 'skipped', reason: 'overlap' })).toBe(2);
    await queue.obliterate({ force: true });
  });

  it('overlap queue-one: one run may wait besides the running one', async () => {
    clock.t = at('2026-01-08T10:00:00Z');
    const schedule = await create({ everyMs: 1000, overlap: 'queue-one' });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1);
    clock.t += 1000;
    expect(await runner.runOnce()).toMatchObject({ fired: 0, overlap: 1 }); // the first still waits
    await tasks.update({ scheduleId: schedule.id }, { status: 'active' });
    clock.t += 1000;
    expect((await runner.runOnce()).fired).toBe(1); // first runs, this one waits
    clock.t += 1000;
    expect(await runner.runOnce()).toMatchObject({ fired: 0, overlap: 1 });
    expect((await runsOf(schedule.id)).map((r) => r.status)).toEqual(['active', 'queued']);
  });

  it('overlap allow: every tick runs, finished or not', async () => {
    clock.t = at('2026-01-09T10:00:00Z');
    const schedule = await create({ everyMs: 1000, overlap: 'allow' });
    for (let i = 0; i < 3; i++) {
      clock.t += 1000;
      await runner.runOnce();
    }
    expect(await ticksOf(schedule.id)).toHaveLength(3);
  });

  describe('missed ticks after an hour without any scheduler', () => {
    const downtime = async (input: Partial<ScheduleInput>) => {
      clock.t = at('2026-01-10T10:00:30Z');
      const schedule = await create({ cron: '* * * * *', ...input });
      clock.t = at('2026-01-10T11:00:30Z'); // ticks 10:01 … 11:00 all missed (grace 5 s)
      const report = await runner.runOnce();
      return { schedule, report, ticks: await ticksOf(schedule.id) };
    };

    it('skip drops them and goes on at the next tick', async () => {
      const { schedule, report, ticks } = await downtime({ missed: 'skip' });
      expect(ticks).toEqual([]);
      expect(report.missedDropped).toBe(60);
      expect((await schedules.findOneByOrFail({ id: schedule.id })).nextRunAt!.toISOString()).toBe('2026-01-10T11:01:00.000Z');
    });

    it('run-once runs the latest missed tick once', async () => {
      const { ticks, report } = await downtime({ missed: 'run-once' });
      expect(ticks).toEqual(['2026-01-10T11:00:00.000Z']);
      expect(report.missedDropped).toBe(59);
      expect((await runner.runOnce()).fired).toBe(0);
    });

    it('catch-up runs the latest catchUpLimit missed ticks, oldest first', async () => {
      const { ticks } = await downtime({ missed: 'catch-up', catchUpLimit: 3 });
      expect(ticks).toEqual(['2026-01-10T10:58:00.000Z', '2026-01-10T10:59:00.000Z', '2026-01-10T11:00:00.000Z']);
    });
  });

  describe('DST in Europe/Berlin: a daily 02:30 schedule', () => {
    /** Moves the clock in 10-minute steps, running the scheduler at each, as a live one would. */
    const live = async (untilIso: string) => {
      while (clock.t < at(untilIso)) {
        clock.t += 10 * 60_000;
        await runner.runOnce();
      }
    };

    it('fires once on the spring-forward day (02:30 does not exist: at 03:30 CEST)', async () => {
      clock.t = at('2026-03-28T12:00:00Z');
      const schedule = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', missed: 'skip' });
      await live('2026-03-30T12:00:00Z');
      expect(await ticksOf(schedule.id)).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    });

    it('fires exactly once on the fall-back day (02:30 happens twice: the first one)', async () => {
      clock.t = at('2026-10-24T12:00:00Z');
      const schedule = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', missed: 'skip' });
      await live('2026-10-26T12:00:00Z');
      expect(await ticksOf(schedule.id)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    });
  });

  it('pause stops ticks; resume goes on from now without running the paused ones', async () => {
    clock.t = at('2026-01-11T10:00:00Z');
    const schedule = await create({ everyMs: 1000, missed: 'catch-up' });
    await service.setPaused('acme', schedule.id, true);
    clock.t += 10_000;
    await runner.runOnce();
    expect(await ticksOf(schedule.id)).toEqual([]);
    await service.setPaused('acme', schedule.id, false);
    clock.t += 1000;
    await runner.runOnce();
    expect(await ticksOf(schedule.id)).toEqual(['2026-01-11T10:00:11.000Z']);
  });

  it('code-declared schedules are reconciled: added, changed, removed; two processes booting at once agree', async () => {
    clock.t = at('2026-01-12T10:00:00Z');
    const declared = (definitions: ReturnType<typeof declaredType>[]) => {
      const registry = new TaskTypeRegistry();
      registry.register([...SYSTEM_TASK_TYPES, ...definitions]);
      return new DeclaredSchedules(app.get(APP_CONFIG), registry, app.get(ScheduleStore), app.get(ScheduleDefinitions), service);
    };
    const rows = async () =>
      (await schedules.find({ where: { tenantId: SYSTEM_TENANT }, order: { key: 'ASC' } })).map(({ key, cron, everyMs }) => ({ key, cron, everyMs }));

    const [first, second] = await Promise.all([declared([TICK_V1]).reconcile(), declared([TICK_V1]).reconcile()]);
    expect([...first.added, ...second.added].sort()).toEqual(['test.tick:hourly', 'test.tick:often']);
    expect(await rows()).toEqual([
      { key: 'test.tick:hourly', cron: '0 * * * *', everyMs: null },
      { key: 'test.tick:often', cron: null, everyMs: 60_000 },
    ]);
    expect(await declared([TICK_V1]).reconcile()).toEqual({ added: [], changed: [], removed: [] });

    const v2 = declaredType([
      { id: 'hourly', cron: '15 * * * *', timezone: 'Europe/Berlin' },
      { id: 'nightly', cron: '0 3 * * *' },
    ]);
    expect(await declared([v2]).reconcile()).toEqual({ added: ['test.tick:nightly'], changed: ['test.tick:hourly'], removed: ['test.tick:often'] });
    expect(await rows()).toEqual([
      { key: 'test.tick:hourly', cron: '15 * * * *', everyMs: null },
      { key: 'test.tick:nightly', cron: '0 3 * * *', everyMs: null },
    ]);
    // A process that does not know test.tick leaves its schedules alone.
    expect((await declared([]).reconcile()).removed).toEqual([]);
    await schedules.delete({ tenantId: SYSTEM_TENANT });
  });

  it('the housekeeping schedules are declared from config: their interval, overlap and missed skip, read-only; 0 removes one', async () => {
    clock.t = at('2026-01-13T10:00:00Z');
    const base = app.get<AppConfig>(APP_CONFIG);
    const declared = (reconcileIntervalMs: number, retentionIntervalMs: number) => {
      const registry = new TaskTypeRegistry();
      registry.register(MAINTENANCE_TASK_TYPES);
      const config = { ...base, maintenance: { ...base.maintenance, reconcileIntervalMs, retentionIntervalMs } };
      return new DeclaredSchedules(config, registry, app.get(ScheduleStore), app.get(ScheduleDefinitions), service);
    };
    const rows = async () =>
      (await schedules.find({ where: { tenantId: SYSTEM_TENANT }, order: { key: 'ASC' } })).map(({ key, everyMs, overlap, missed, task }) => ({
        key,
        everyMs,
        overlap,
        missed,
        task,
      }));

    expect((await declared(60_000, 3_600_000).reconcile()).added).toEqual(['system.reconcile:interval', 'system.retention:interval']);
    expect(await rows()).toEqual([
      { key: 'system.reconcile:interval', everyMs: 60_000, overlap: 'skip', missed: 'skip', task: { type: 'system.reconcile', payload: {} } },
      { key: 'system.retention:interval', everyMs: 3_600_000, overlap: 'skip', missed: 'skip', task: { type: 'system.retention', payload: {} } },
    ]);
    expect(await declared(5000, 0).reconcile()).toEqual({ added: [], changed: ['system.reconcile:interval'], removed: ['system.retention:interval'] });
    expect((await rows()).map(({ key, everyMs }) => ({ key, everyMs }))).toEqual([{ key: 'system.reconcile:interval', everyMs: 5000 }]);

    // Through the service as the API calls it: an admin's scope reaches it, and only to read, pause and trigger.
    const [reconcile] = await schedules.findBy({ tenantId: SYSTEM_TENANT });
    const admin = ['default', SYSTEM_TENANT];
    await expect(service.get('acme', reconcile.id)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
    expect((await service.list(admin, 10)).map((row) => row.key)).toContain('system.reconcile:interval');
    const refusal = (attempt: Promise<unknown>) =>
      attempt.then(
        () => 'accepted',
        (error: DomainError) => `${STATUS_BY_KIND[error.kind]} ${error.code}`,
      );
    expect(await refusal(service.update(admin, reconcile.id, { everyMs: 2000 }))).toBe('403 SCHEDULE_READ_ONLY');
    expect(await refusal(service.delete(admin, reconcile.id))).toBe('403 SCHEDULE_READ_ONLY');
    expect((await service.setPaused(admin, reconcile.id, true)).paused).toBe(true);
    expect((await schedules.findOneByOrFail({ id: reconcile.id })).everyMs).toBe(5000);
    await schedules.delete({ tenantId: SYSTEM_TENANT });
  });

  it('keeps the tick tasks of one schedule apart from another tenant', async () => {
    const schedule = await create({ everyMs: 1000 }, 'other');
    await expect(service.get('acme', schedule.id)).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
    await tasks.delete({ scheduleId: In([schedule.id]) });
  });
});
