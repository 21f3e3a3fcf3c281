import { DataSource } from 'typeorm';
import { buildDataSourceOptions, isUniqueViolation } from '@conveyor/database';
import { createTestDatabase, DIALECTS, taskRow, type TestDatabase } from '@conveyor/testing';
import { FlowSettler, TaskEntity, TaskLedgerService } from '@conveyor/tasks';
import { TaskStateWriter } from '@conveyor/tasks/worker';

function newTask(overrides: Partial<TaskEntity> = {}): TaskEntity {
  return taskRow({ type: 'system.sleep', payload: { ms: 10, nested: { ünïcode: '✓' } }, ...overrides });
}

describe.each(DIALECTS)('task ledger on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let ledger: TaskLedgerService;
  let writer: TaskStateWriter;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataSource = new DataSource(buildDataSourceOptions(database.config, [TaskEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    ledger = new TaskLedgerService(dataSource.getRepository(TaskEntity));
    writer = new TaskStateWriter(dataSource, new FlowSettler());
  });

  afterAll(async () => {
    await writer?.onApplicationShutdown();
    await dataSource?.destroy();
    await database?.drop();
  });

  it('migrates up, down and up again', async () => {
    const runner = dataSource.createQueryRunner();
    try {
      // Revert every migration, newest first, until the ledger table is gone.
      for (let i = 0; i < 20 && (await runner.hasTable('tasks')); i += 1) await dataSource.undoLastMigration();
      expect(await runner.hasTable('tasks')).toBe(false);
      await dataSource.runMigrations();
      expect(await runner.hasTable('tasks')).toBe(true);
    } finally {
      await runner.release();
    }
  });

  it('stores and reads back every field, with JSON and UTC timestamps intact', async () => {
    const scheduledFor = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    const task = newTask({ tags: ['a', 'b'], scheduledFor, status: 'scheduled', idempotencyKey: 'key-1' });
    await ledger.insert([task]);
    const read = await ledger.findOne('tenant-a', task.id);
    expect(read).not.toBeNull();
    expect(read!.payload).toEqual(task.payload);
    expect(read!.tags).toEqual(['a', 'b']);
    expect(read!.scheduledFor!.toISOString()).toBe('2030-01-02T03:04:05.678Z');
    expect(read!.createdAt.getTime()).toBe(task.createdAt.getTime());
    expect(read!.status).toBe('scheduled');
  });

  it('scopes reads to the tenant', async () => {
    const task = newTask();
    await ledger.insert([task]);
    expect(await ledger.findOne('tenant-b', task.id)).toBeNull();
    expect(await ledger.findOne('tenant-a', task.id)).not.toBeNull();
  });

  it('refuses a second task with the same idempotency key in a tenant, not across tenants', async () => {
    await ledger.insert([newTask({ idempotencyKey: 'dup' })]);
    await expect(ledger.insert([newTask({ idempotencyKey: 'dup' })])).rejects.toThrow();
    await expect(ledger.insert([newTask({ tenantId: 'tenant-b', idempotencyKey: 'dup' })])).resolves.toBeUndefined();
  });

  it('compares keys, tenants and types byte for byte, as PostgreSQL does', async () => {
    // MariaDB's default collation is case-insensitive: "abc" and "ABC" collided in the unique
    // index (a 500 for the second client) and a tenant "A" read tenant "a"'s rows.
    const lower = newTask({ tenantId: 'case-t', idempotencyKey: 'abc' });
    const upper = newTask({ tenantId: 'case-t', idempotencyKey: 'ABC' });
    await ledger.insert([lower]);
    await expect(ledger.insert([upper])).resolves.toBeUndefined();
    expect((await ledger.findByIdempotencyKeys('case-t', ['ABC'])).map((t) => t.id)).toEqual([upper.id]);
    expect(await ledger.findOne('CASE-T', lower.id)).toBeNull();
    expect(await ledger.list({ tenantId: 'case-t', type: 'SYSTEM.SLEEP', limit: 10 })).toEqual([]);
  });

  it('lists newest first with filters and keyset paging', async () => {
    const tenantId = `list-${dialect}`;
    const rows = Array.from({ length: 7 }, (_, i) => newTask({ tenantId, type: i % 2 ? 'system.noop' : 'system.sleep', tags: i < 3 ? ['vip'] : ['std'] }));
    await ledger.insert(rows);
    const newestFirst = [...rows].reverse().map((r) => r.id);

    const page1 = await ledger.list({ tenantId, limit: 3 });
    const page2 = await ledger.list({ tenantId, limit: 3, before: page1[2].id });
    const page3 = await ledger.list({ tenantId, limit: 3, before: page2[2].id });
    expect([...page1, ...page2, ...page3].map((r) => r.id)).toEqual(newestFirst);

    const noops = await ledger.list({ tenantId, type: 'system.noop', limit: 10 });
    expect(noops.map((r) => r.id)).toEqual(newestFirst.filter((id) => rows.find((r) => r.id === id)!.type === 'system.noop'));

    const vip = await ledger.list({ tenantId, tag: 'vip', limit: 10 });
    expect(vip.map((r) => r.id).sort()).toEqual(
      rows
        .slice(0, 3)
        .map((r) => r.id)
        .sort(),
    );

    const none = await ledger.list({ tenantId, status: 'failed', limit: 10 });
    expect(none).toHaveLength(0);
  });

  it('inserts a batch of 1000 rows', async () => {
    const tenantId = `bulk-${dialect}`;
    await ledger.insert(Array.from({ length: 1000 }, () => newTask({ tenantId })));
    const count = await dataSource.getRepository(TaskEntity).countBy({ tenantId });
    expect(count).toBe(1000);
  });

  it('stores a batch over one statement whole or not at all', async () => {
    const tenantId = `atomic-${dialect}`;
    const existing = newTask({ tenantId });
    await ledger.insert([existing]);
    // 700 rows = two statements; the second one holds a duplicate id and fails.
    const rows = Array.from({ length: 700 }, (_, i) => (i === 650 ? newTask({ tenantId, id: existing.id }) : newTask({ tenantId })));
    await expect(ledger.insert(rows)).rejects.toThrow();
    expect(await dataSource.getRepository(TaskEntity).countBy({ tenantId })).toBe(1);
  });

  it('shares INSERTs between concurrent callers, each keeping its own outcome', async () => {
    const tenantId = `shared-${dialect}`;
    const taken = newTask({ tenantId, idempotencyKey: 'taken-key', idempotencyHash: 'a'.repeat(64) });
    await ledger.insert([taken]);
    const statements: string[] = [];
    // Count the INSERT statements the service sends on its query runners (the real query still runs).
    const createRunner = dataSource.createQueryRunner.bind(dataSource);
    const spy = jest.spyOn(dataSource, 'createQueryRunner').mockImplementation((mode) => {
      const runner = createRunner(mode);
      const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
      runner.query = ((sql: string, ...rest: unknown[]) => {
        if (sql.startsWith('INSERT')) statements.push(sql);
        return query(sql, ...rest);
      }) as typeof runner.query;
      return runner;
    });
    try {
      // Without conflicts: 60 callers at once cost far fewer statements than callers.
      const plain = await Promise.allSettled(Array.from({ length: 60 }, () => ledger.insertShared([newTask({ tenantId })])));
      expect(plain.every((o) => o.status === 'fulfilled')).toBe(true);
      expect(statements.length).toBeGreaterThan(0);
      expect(statements.length).toBeLessThan(10);
      statements.length = 0;

      const callers = Array.from({ length: 60 }, (_, i) =>
        i === 30 ? [newTask({ tenantId, idempotencyKey: 'taken-key', idempotencyHash: 'b'.repeat(64) })] : [newTask({ tenantId }), newTask({ tenantId })],
      );
      const outcomes = await Promise.allSettled(callers.map((rows) => ledger.insertShared(rows)));
      // Only the caller whose key was taken fails, with the database's unique violation.
      expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
      expect(outcomes[30].status).toBe('rejected');
      expect(isUniqueViolation((outcomes[30] as PromiseRejectedResult).reason)).toBe(true);
      expect(await dataSource.getRepository(TaskEntity).countBy({ tenantId })).toBe(1 + 60 + 59 * 2);
      // The shared statement holding the taken key failed; its callers were retried one by one.
      const shared = statements.filter((sql) => (sql.match(/\),\s*\(/g) ?? []).length >= 2);
      expect(shared.length).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('group-commits worker state changes, merging changes to the same task', async () => {
    const tenantId = `writer-${dialect}`;
    const rows = Array.from({ length: 1200 }, () => newTask({ tenantId }));
    await ledger.insert(rows);
    const startedAt = new Date(Date.UTC(2031, 5, 6, 7, 8, 9, 10));
    const finishedAt = new Date(startedAt.getTime() + 1234);

    // Issued in one tick: "active" and "completed" of the same task merge into one row change,
    // and rows of the same shape share statements.
    const writes = rows.flatMap((row, i) => [
      writer.write(row.id, { status: 'active', attempts: 1, startedAt, workerId: 'w-1', finishedAt: null }),
      i % 3 === 0
        ? writer.write(row.id, { status: 'failed', error: { code: 'BOOM', message: `row ${i}` }, finishedAt })
        : writer.write(row.id, { status: 'completed', result: { i, text: 'ok ✓' }, progress: { percent: 100 }, finishedAt }),
    ]);
    await Promise.all(writes);
    expect(writer.backlog).toBe(0);

    const stored = await dataSource.getRepository(TaskEntity).findBy({ tenantId });
    const byId = new Map(stored.map((row) => [row.id, row]));
    rows.forEach((row, i) => {
      const got = byId.get(row.id)!;
      expect(got.attempts).toBe(1);
      expect(got.workerId).toBe('w-1');
      expect(got.startedAt!.toISOString()).toBe(startedAt.toISOString());
      expect(got.finishedAt!.toISOString()).toBe(finishedAt.toISOString());
      if (i % 3 === 0) {
        expect(got.status).toBe('failed');
        expect(got.error).toEqual({ code: 'BOOM', message: `row ${i}` });
        expect(got.result).toBeNull();
      } else {
        expect(got.status).toBe('completed');
        expect(got.result).toEqual({ i, text: 'ok ✓' });
        expect(got.progress).toEqual({ percent: 100 });
      }
      expect(got.updatedAt.getTime()).toBeGreaterThanOrEqual(row.updatedAt.getTime());
    });
  });

  it('keeps later writes in order across flushes and clears a column with an explicit null', async () => {
    const task = newTask();
    await ledger.insert([task]);
    await writer.write(task.id, { status: 'retrying', error: { code: 'X', message: 'first' }, attempts: 1 });
    await writer.write(task.id, { status: 'active', attempts: 2 });
    await writer.write(task.id, { status: 'completed', error: null, result: [1, 2, 3] });
    const read = await ledger.findOne(task.tenantId, task.id);
    expect(read).toMatchObject({ status: 'completed', attempts: 2, error: null, result: [1, 2, 3] });
  });

  it('commits the rest of a batch the database refuses, and records what became of the bad rows', async () => {
    const tenantId = `refused-${dialect}`;
    const [good, unstorable, refused, alsoGood] = Array.from({ length: 4 }, () => newTask({ tenantId }));
    await ledger.insert([good, unstorable, refused, alsoGood]);
    const finishedAt = new Date();
    const quietLogger = { error: jest.fn(), warn: jest.fn() };
    (writer as unknown as { logger: unknown }).logger = quietLogger;
    // One tick, one batch: a result with no JSON form, and a worker id over the column's 128
    // characters, which the database itself refuses (a data error, not a connection error).
    await Promise.all([
      writer.write(good.id, { status: 'completed', result: { ok: 1 }, finishedAt }),
      writer.write(unstorable.id, { status: 'completed', result: { rows: 10n }, finishedAt }),
      writer.write(refused.id, { status: 'completed', result: { ok: 3 }, workerId: 'w'.repeat(200), finishedAt }),
      writer.write(alsoGood.id, { status: 'failed', error: { code: 'BOOM', message: 'x' }, finishedAt }),
    ]);
    expect(writer.backlog).toBe(0);

    const byId = new Map((await dataSource.getRepository(TaskEntity).findBy({ tenantId })).map((row) => [row.id, row]));
    expect(byId.get(good.id)).toMatchObject({ status: 'completed', result: { ok: 1 } });
    expect(byId.get(alsoGood.id)).toMatchObject({ status: 'failed', error: { code: 'BOOM', message: 'x' } });
    // Cut down to its plain columns: failed, no result, and the reason.
    expect(byId.get(unstorable.id)).toMatchObject({ status: 'failed', result: null, error: { code: 'LEDGER_WRITE_REJECTED' } });
    expect(byId.get(unstorable.id)!.error!.message).toMatch(/result cannot be stored as JSON/);
    // Refused even in its plain form (the worker id is the fault): dropped and logged.
    expect(byId.get(refused.id)).toMatchObject({ status: 'queued', workerId: null });
    expect(quietLogger.error).toHaveBeenCalledWith(expect.objectContaining({ taskId: refused.id }), expect.stringContaining('change dropped'));
  });

  it('writes follow-ups with the completion exactly once: a re-run adds none, a cancelled parent gets none', async () => {
    const tenantId = `follow-${dialect}`;
    const [parent, cancelled, plain] = [
      newTask({ tenantId, status: 'active' }),
      newTask({ tenantId, status: 'cancelled' }),
      newTask({ tenantId, status: 'active' }),
    ];
    await ledger.insert([parent, cancelled, plain]);
    const followUps = (of: TaskEntity, count: number) =>
      Array.from({ length: count }, (_, i) => newTask({ tenantId, parentId: of.id, rootId: of.id, idempotencyKey: `conveyor:follow-up:${of.id}:${i}` }));
    const completion = { status: 'completed' as const, result: { ok: 1 }, finishedAt: new Date() };

    // One flush: two completions with follow-ups and a plain change, as under load.
    const [queued, none] = await Promise.all([
      writer.writeCompletion(parent.id, completion, followUps(parent, 3)),
      writer.writeCompletion(cancelled.id, completion, followUps(cancelled, 2)),
      writer.write(plain.id, { status: 'completed', finishedAt: new Date() }),
    ]);
    const children = await dataSource.getRepository(TaskEntity).findBy({ tenantId, parentId: parent.id });
    expect(children.map((c) => c.idempotencyKey).sort()).toEqual([0, 1, 2].map((i) => `conveyor:follow-up:${parent.id}:${i}`));
    expect(queued.queue.map((row) => row.id).sort()).toEqual(children.map((c) => c.id).sort());
    expect(none.queue).toEqual([]);
    expect(await dataSource.getRepository(TaskEntity).countBy({ parentId: cancelled.id })).toBe(0);
    expect((await ledger.findOne(tenantId, cancelled.id))!.status).toBe('cancelled');
    expect((await ledger.findOne(tenantId, plain.id))!.status).toBe('completed');

    // The parent runs again (its worker died before BullMQ heard of the end): same keys, new
    // rows. Nothing new is stored; the children still waiting are handed back to be queued.
    const again = await writer.writeCompletion(parent.id, { ...completion, result: { ok: 2 } }, followUps(parent, 3));
    expect(await dataSource.getRepository(TaskEntity).countBy({ parentId: parent.id })).toBe(3);
    expect(again.queue.map((row) => row.id).sort()).toEqual(children.map((c) => c.id).sort());
    expect((await ledger.findOne(tenantId, parent.id))!.result).toEqual({ ok: 2 });
  });

  it('removes rows that were never enqueued', async () => {
    const task = newTask();
    await ledger.insert([task]);
    await ledger.removeNotEnqueued(task.tenantId, [task.id]);
    expect(await ledger.findOne(task.tenantId, task.id)).toBeNull();
  });
});
