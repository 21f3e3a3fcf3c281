import { Test, type TestingModule } from '@nestjs/testing';
import { register } from 'prom-client';
import { DataSource, In, type Repository } from 'typeorm';
import { runMigrations } from '@conveyor/database';
import { SystemTasksWorkerModule } from '@conveyor/system-tasks/worker';
import { TaskEntity, TaskLogEntity, TasksCoreModule, type TaskLogRow } from '@conveyor/tasks';
import { TaskProducer, TenantBacklog } from '@conveyor/tasks/api';
import { TaskLogWriter, TaskRetention, TasksWorkerModule } from '@conveyor/tasks/worker';
import { createTestDatabase, deleteRedisPrefix, DIALECTS, TEST_REDIS_URL, uniqueName, waitFor, type TestDatabase } from '@conveyor/testing';
import { TaskLogReader } from '../src/task-logs/task-log-reader';
import { uuidv7 } from 'uuidv7';

/**
 * Task logs on a real database and real Redis: handlers' `ctx.log` lines reach `task_logs`
 * through the batched writer, capped per attempt with a line saying what was dropped, kept
 * per attempt, paged oldest first, written once when a batch is written twice, and deleted
 * with their task by retention.
 */
describe.each(DIALECTS)('task logs on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let tasks: Repository<TaskEntity>;
  let lines: Repository<TaskLogEntity>;
  let producer: TaskProducer;
  let writer: TaskLogWriter;
  let reader: TaskLogReader;
  const savedEnv = { ...process.env };

  const enqueue = async (requests: Array<Record<string, unknown>>) => (await producer.enqueue('logs', requests as never)).tasks.map((task) => task.id);
  const ended = (ids: string[]) =>
    waitFor(
      async () => {
        const rows = await tasks.findBy({ id: In(ids) });
        return rows.length === ids.length && rows.every((row) => ['completed', 'failed'].includes(row.status)) ? rows : undefined;
      },
      { timeoutMs: 30_000, what: 'tasks to end' },
    );
  const logOf = async (taskId: string) => {
    await writer.drain();
    return lines.find({ where: { taskId }, order: { id: 'ASC' } });
  };

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    prefix = uniqueName('it_logs');
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      WORKER_ID: `logs-${dialect}`,
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL_MS: '0',
      RETENTION_INTERVAL_MS: '0',
      TASK_LOG_MAX_LINES: '5',
      TASK_LOG_MAX_BYTES: '4096',
    });
    app = await Test.createTestingModule({
      imports: [TasksCoreModule, TasksWorkerModule, SystemTasksWorkerModule],
      providers: [TaskProducer, TenantBacklog, TaskLogReader],
    }).compile();
    await app.init();
    const dataSource = app.get(DataSource);
    tasks = dataSource.getRepository(TaskEntity);
    lines = dataSource.getRepository(TaskLogEntity);
    producer = app.get(TaskProducer);
    writer = app.get(TaskLogWriter);
    reader = app.get(TaskLogReader);
  });

  afterAll(async () => {
    await app?.close();
    register.clear();
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('keeps TASK_LOG_MAX_LINES lines of an attempt and one more saying how many were dropped', async () => {
    const [id] = await enqueue([{ type: 'system.log', payload: { message: 'row read', repeat: 8, input: { file: 'a.csv' } } }]);
    await ended([id]);
    const log = await logOf(id);
    expect(log.map((line) => [line.attempt, line.level, line.message])).toEqual([
      ...[1, 2, 3, 4, 5].map(() => [1, 'info', 'row read']),
      [1, 'warn', expect.stringMatching(/^3 log line\(s\) \(\d+ bytes\) of this attempt were not kept: over TASK_LOG_MAX_LINES \(5\)/)],
    ]);
    expect(log.slice(0, 5).map((line) => line.fields)).toEqual([1, 2, 3, 4, 5].map((n) => ({ input: { file: 'a.csv' }, line: n })));
    expect(log[5].fields).toEqual({ droppedLines: 3, droppedBytes: expect.any(Number) });
  });

  it('caps bytes per attempt too', async () => {
    // 500 bytes of message + about 1,520 of fields: two lines fit in 4096 bytes, the third does not.
    const [id] = await enqueue([{ type: 'system.log', payload: { message: 'x'.repeat(500), repeat: 3, input: { pad: 'y'.repeat(1500) } } }]);
    await ended([id]);
    const log = await logOf(id);
    expect(log).toHaveLength(3);
    expect(log[2].message).toMatch(/^1 log line\(s\).*TASK_LOG_MAX_BYTES \(4096\)/);
  });

  it('keeps lines per attempt, and pages a task oldest first, filtered by attempt', async () => {
    const [id] = await enqueue([{ type: 'system.sleep', payload: { ms: 1, failTimes: 2 }, maxAttempts: 3 }]);
    const [row] = await ended([id]);
    expect(row).toMatchObject({ status: 'completed', attempts: 3 });
    const log = await logOf(id);
    expect(log.map((line) => [line.attempt, line.message])).toEqual([
      [1, 'failing attempt 1 on purpose'],
      [2, 'failing attempt 2 on purpose'],
    ]);
    expect((await reader.page(id, { attempt: 2, limit: 10 })).map((line) => line.message)).toEqual(['failing attempt 2 on purpose']);
    expect(await reader.page(id, { attempt: 3, limit: 10 })).toEqual([]);
    const first = await reader.page(id, { limit: 1 });
    expect(first.map((line) => line.attempt)).toEqual([1]);
    expect((await reader.page(id, { limit: 1, after: first[0].id })).map((line) => line.attempt)).toEqual([2]);
  });

  it('writes a batch written twice once (a flush retried after an unanswered commit)', async () => {
    const [id] = await enqueue([{ type: 'system.noop', payload: {}, delayMs: 3_600_000 }]);
    const rows: TaskLogRow[] = [1, 2, 3].map((n) => ({
      id: uuidv7(),
      taskId: id,
      attempt: 1,
      level: 'info',
      message: `line ${n}`,
      fields: n === 2 ? '{"n":2}' : null,
      loggedAt: new Date(),
    }));
    for (const row of [...rows, ...rows]) writer.append(row);
    expect((await logOf(id)).map((line) => line.message)).toEqual(['line 1', 'line 2', 'line 3']);
    for (const row of rows) writer.append(row);
    expect(await logOf(id)).toHaveLength(3);
  });

  it('retention deletes the logs with their task and keeps those of a task it keeps', async () => {
    const [purged, kept] = await enqueue([
      { type: 'system.log', payload: { message: 'gone soon', repeat: 2 } },
      { type: 'system.noop', payload: {}, delayMs: 3_600_000 },
    ]);
    await ended([purged]);
    writer.append({ id: uuidv7(), taskId: kept, attempt: 1, level: 'info', message: 'still here', fields: null, loggedAt: new Date() });
    expect(await logOf(purged)).toHaveLength(2);
    expect(await logOf(kept)).toHaveLength(1);
    await app.get(TaskRetention).purgeOnce({ finishedBefore: new Date(Date.now() + 60_000) });
    expect(await tasks.findOneBy({ id: purged })).toBeNull();
    expect(await lines.countBy({ taskId: purged })).toBe(0);
    expect(await lines.countBy({ taskId: kept })).toBe(1);
  });
});
