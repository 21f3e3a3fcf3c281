import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '@conveyor/database';
import { createTestDatabase, DIALECTS, taskRow, type TestDatabase } from '@conveyor/testing';
import { TaskEntity, TaskLedgerService, type TaskStatus } from '@conveyor/tasks';

/** A UUIDv7 of the given millisecond (the n-th of that ms), as the task factory makes them. */
function idAt(ms: number, n: number): string {
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-${n.toString(16).padStart(12, '0')}`;
}

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

describe.each(DIALECTS)('task search on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let ledger: TaskLedgerService;
  const tenantId = 'search-t';
  const ids: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataSource = new DataSource(buildDataSourceOptions(database.config, [TaskEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    ledger = new TaskLedgerService(dataSource.getRepository(TaskEntity));
    // Ten tasks, one an hour; every third failed with a distinctive error, one with a needle in its payload.
    const rows = Array.from({ length: 10 }, (_, i) => {
      const failed = i % 3 === 0;
      return taskRow({
        id: idAt(T0 + i * HOUR, i),
        tenantId,
        createdAt: new Date(T0 + i * HOUR),
        status: (failed ? 'failed' : 'completed') as TaskStatus,
        payload: i === 4 ? { note: 'Find the NeedLe here', pct: '100%_x' } : { n: i },
        result: failed ? null : { echoed: `run ${i}` },
        error: failed ? { code: 'UPSTREAM_DOWN', message: `Gateway timeout on run ${i}` } : null,
      });
    });
    ids.push(...rows.map((row) => row.id));
    await ledger.insert(rows);
    await ledger.insert([taskRow({ tenantId: 'other-t', status: 'failed', payload: { note: 'needle' }, error: { code: 'UPSTREAM_DOWN', message: 'x' } })]);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  const list = (terms: Partial<Parameters<TaskLedgerService['list']>[0]> = {}) =>
    ledger.list({ tenantId, limit: 100, ...terms }).then((rows) => rows.map((row) => ids.indexOf(row.id)));

  it('finds text in the payload, result or error, case-insensitively, within the tenant', async () => {
    expect(await list({ text: 'needle' })).toEqual([4]);
    expect(await list({ text: 'gateway TIMEOUT' })).toEqual([9, 6, 3, 0]);
    expect(await list({ text: 'run 5' })).toEqual([5]);
    expect(await list({ text: 'nothing like it' })).toEqual([]);
  });

  it('takes %, _ and \\ in the search text literally', async () => {
    expect(await list({ text: '100%_x' })).toEqual([4]);
    expect(await list({ text: '0%' })).toEqual([4]);
    // As wildcards they would match "run 1" and "run 9".
    expect(await list({ text: 'n_1' })).toEqual([]);
    expect(await list({ text: 'run%9' })).toEqual([]);
    expect(await list({ text: '\\' })).toEqual([]);
  });

  it('bounds the list by creation time through the ids', async () => {
    expect(await list({ createdAfter: new Date(T0 + 7 * HOUR) })).toEqual([9, 8, 7]);
    expect(await list({ createdBefore: new Date(T0 + 2 * HOUR) })).toEqual([1, 0]);
    expect(await list({ createdAfter: new Date(T0 + 2 * HOUR + 1), createdBefore: new Date(T0 + 5 * HOUR) })).toEqual([4, 3]);
    expect(await list({ createdAfter: new Date(T0 + 3 * HOUR), status: 'failed', before: ids[9] })).toEqual([6, 3]);
  });

  it('gives the id a text search scan window ends at, ignoring the text', async () => {
    const floor = await ledger.scanFloor({ tenantId, text: 'needle' }, 3);
    expect(floor).toBe(ids[7]);
    // The first window (ids 9..7) has no match; the next page resumes below it and finds it.
    expect(await list({ text: 'needle', atLeast: floor })).toEqual([]);
    const next = await ledger.scanFloor({ tenantId, text: 'needle', before: floor }, 3);
    expect(next).toBe(ids[4]);
    expect(await list({ text: 'needle', before: floor, atLeast: next })).toEqual([4]);
    expect(await ledger.scanFloor({ tenantId, before: ids[2] }, 3)).toBeUndefined();
  });

  it('filters by error code and groups the newest failures by type and code', async () => {
    expect(await list({ errorCode: 'UPSTREAM_DOWN' })).toEqual([9, 6, 3, 0]);
    expect(await list({ errorCode: 'upstream_down' })).toEqual([]);
    expect(await ledger.failureGroups(tenantId, 100)).toEqual([{ type: 'system.noop', errorCode: 'UPSTREAM_DOWN', count: 4, latestId: ids[9] }]);
    // The window counts the newest failed tasks only.
    expect(await ledger.failureGroups(tenantId, 2)).toEqual([{ type: 'system.noop', errorCode: 'UPSTREAM_DOWN', count: 2, latestId: ids[9] }]);
    expect(await ledger.failureGroups('nobody', 100)).toEqual([]);
  });

  it('counts tasks per status, each count capped', async () => {
    expect(await ledger.countByStatus(tenantId, ['failed', 'completed', 'active'], 100)).toEqual({ failed: 4, completed: 6, active: 0 });
    expect(await ledger.countByStatus(tenantId, ['failed', 'completed'], 5)).toEqual({ failed: 4, completed: 5 });
    expect(await ledger.countByStatus([tenantId, 'other-t'], ['failed'], 100)).toEqual({ failed: 5 });
    expect(await ledger.countByStatus(tenantId, ['failed'], 100, 'system.sleep')).toEqual({ failed: 0 });
  });
});
