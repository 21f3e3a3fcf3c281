import type { DataSource } from 'typeorm';
import { FlowSettler } from '../flows/flow-settler';
import type { TaskTransition, TaskTransitionHooks } from '../ledger/task-transition-hooks';
import { SOON_FLUSH_MS, TaskStateWriter } from './task-state-writer';

/**
 * The writer's scheduling against a fake database whose statements finish only when the test
 * says so: how many flushes run at once, and that one task's changes never overtake each other.
 */
interface Statement {
  sql: string;
  params: unknown[];
  ids: string[];
  finish(error?: Error): void;
}

function fakeDataSource(poolSize = 10) {
  const statements: Statement[] = [];
  let running = 0;
  let maxRunning = 0;
  const dataSource = {
    options: { type: 'postgres', extra: { max: poolSize } },
    query: jest.fn(
      (sql: string, params: unknown[]) =>
        new Promise<void>((resolve, reject) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          // Postgres tuples start with the task id and updated_at, then one value per column.
          const columns = /AS v\(([^)]*)\)/.exec(sql)?.[1].split(',').length ?? 2;
          const ids = params.filter((_, i) => i % columns === 0) as string[];
          statements.push({
            sql,
            params,
            ids,
            finish: (error) => {
              running -= 1;
              if (error) reject(error);
              else resolve();
            },
          });
        }),
    ),
  };
  return { dataSource: dataSource as unknown as DataSource, statements, maxRunning: () => maxRunning };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Jest's fake timers for back-offs and delays; setImmediate stays real, so tick() still works. */
async function withFakeTimers(test: () => Promise<void>): Promise<void> {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
  try {
    await test();
  } finally {
    jest.useRealTimers();
  }
}

/** The writer logs refusals and retries; the tests read its behaviour, not its log lines. */
function quiet(writer: TaskStateWriter): void {
  (writer as unknown as { logger: Record<string, jest.Mock> }).logger = { error: jest.fn(), warn: jest.fn() } as never;
}

describe('TaskStateWriter scheduling', () => {
  it('sends a task finishing during a flush at once instead of waiting for that flush (up to half the pool)', async () => {
    const { dataSource, statements, maxRunning } = fakeDataSource(6);
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    const done: string[] = [];
    const write = (id: string) => writer.write(id, { status: 'completed' }).then(() => done.push(id));

    const first = write('a');
    await tick();
    expect(statements).toHaveLength(1);
    const second = write('b');
    const third = write('c');
    await tick();
    // b and c share the second flush, started while the first is still under way.
    expect(statements).toHaveLength(2);
    expect(statements[1].ids).toEqual(['b', 'c']);
    const fourth = write('d');
    await tick();
    const fifth = write('e');
    await tick();
    // Pool of 6 → at most 3 at once; e waits for a free slot.
    expect(statements).toHaveLength(3);
    expect(maxRunning()).toBe(3);

    statements[1].finish();
    await Promise.all([second, third]);
    expect(done).toEqual(['b', 'c']);
    await tick();
    expect(statements).toHaveLength(4);
    expect(statements[3].ids).toEqual(['e']);
    for (const statement of statements) if (statement !== statements[1]) statement.finish();
    await Promise.all([first, fourth, fifth]);
    await writer.drain();
    expect(writer.backlog).toBe(0);
  });

  it('holds a newer change of a task back until the flush carrying its older change has ended', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    const active = writer.write('x', { status: 'active', attempts: 1 });
    await tick();
    expect(statements).toHaveLength(1);
    const completed = writer.write('x', { status: 'completed' });
    const other = writer.write('y', { status: 'completed' });
    await tick();
    // y goes ahead in its own flush; x's "completed" must not race its "active".
    expect(statements).toHaveLength(2);
    expect(statements[1].ids).toEqual(['y']);
    statements[1].finish();
    await other;

    statements[0].finish();
    await active;
    await tick();
    expect(statements).toHaveLength(3);
    expect(statements[2].ids).toEqual(['x']);
    expect(statements[2].params).toContain('completed');
    statements[2].finish();
    await completed;
    expect(writer.backlog).toBe(0);
  });

  it('keeps a failed batch (merged with newer changes) and retries it before anything newer of its tasks', () =>
    withFakeTimers(async () => {
      const { dataSource, statements } = fakeDataSource();
      const writer = new TaskStateWriter(dataSource, new FlowSettler());
      quiet(writer);
      const first = writer.write('x', { status: 'active', attempts: 1 });
      await tick();
      const second = writer.write('x', { status: 'completed' });
      await tick();
      expect(statements).toHaveLength(1);
      statements[0].finish(new Error('connection lost'));
      await tick();
      // Backing off: nothing is sent for x, not even its newer change.
      await tick();
      expect(statements).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(250);
      await tick();
      expect(statements).toHaveLength(2);
      expect(statements[1].ids).toEqual(['x']);
      expect(statements[1].params).toContain('completed');
      expect(statements[1].params).toContain(1); // attempts from the first change, kept
      statements[1].finish();
      await Promise.all([first, second]);
      expect(writer.backlog).toBe(0);
    }));
});

describe('TaskStateWriter and data the database refuses', () => {
  const refusal = () => Object.assign(new Error('value too long for type character varying(16)'), { code: '22001' });

  it('writes the tasks of a refused batch one by one, so one bad row holds back nobody else', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    quiet(writer);
    const done: string[] = [];
    const writes = ['a', 'b', 'c'].map((id) => writer.write(id, { status: 'completed' }).then(() => done.push(id)));
    await tick();
    expect(statements).toHaveLength(1);
    statements[0].finish(refusal());
    for (let i = 0; i < 5; i++) await tick();
    // No back-off: the database is fine, the data is not. Each task now goes alone.
    expect(statements.slice(1).map((s) => s.ids)).toEqual([['a'], ['b'], ['c']]);
    statements[1].finish();
    statements[3].finish();
    await Promise.all([writes[0], writes[2]]);
    expect(done.sort()).toEqual(['a', 'c']);

    // b alone is refused: its state is stored without result and progress, as a failure.
    statements[2].finish(refusal());
    await tick();
    await tick();
    expect(statements).toHaveLength(5);
    expect(statements[4].ids).toEqual(['b']);
    expect(statements[4].params).toContain('failed');
    expect(statements[4].params.join(' ')).toContain('LEDGER_WRITE_REJECTED');
    statements[4].finish();
    await writes[1];
    expect(writer.backlog).toBe(0);

    // Once committed, b is an ordinary task again: its next change shares a batch.
    const later = [writer.write('b', { progress: { percent: 1 } }), writer.write('d', { progress: { percent: 1 } })];
    await tick();
    expect(statements[5].ids).toEqual(['b', 'd']);
    statements[5].finish();
    await Promise.all(later);
    await writer.drain();
  });

  it('treats a value with no JSON form like a refusal, and drops a change refused even in its plain form', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    quiet(writer);
    const bad = writer.write('x', { status: 'completed', result: { n: 10n } });
    await tick();
    await tick();
    // The BigInt never reaches the database: the statement cannot be built. The plain form is sent.
    expect(statements).toHaveLength(1);
    expect(statements[0].params).toContain('failed');
    expect(statements[0].params.join(' ')).toContain('result cannot be stored as JSON');
    statements[0].finish(refusal());
    // Refused again: the change is dropped (and logged) instead of blocking the worker forever.
    await bad;
    expect(writer.backlog).toBe(0);
  });

  it('drops a refused progress report without marking the task', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    quiet(writer);
    const progress = writer.write('p', { progress: { percent: 5, message: 'x' } });
    await tick();
    statements[0].finish(refusal());
    await progress;
    await tick();
    expect(statements).toHaveLength(1);
    expect(writer.backlog).toBe(0);
  });
});

describe('TaskStateWriter.writeSoon', () => {
  it('lets a change wait for company: a quick task\'s "active" and "completed" become one row change', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    const active = writer.writeSoon('q', { status: 'active', attempts: 1 });
    await tick();
    expect(statements).toHaveLength(0);
    const completed = writer.write('q', { status: 'completed' });
    await tick();
    expect(statements).toHaveLength(1);
    expect(statements[0].ids).toEqual(['q']);
    expect(statements[0].params).toEqual(expect.arrayContaining(['completed', 1]));
    statements[0].finish();
    await Promise.all([active, completed]);
  });

  it('flushes a change left alone within SOON_FLUSH_MS', () =>
    withFakeTimers(async () => {
      const { dataSource, statements } = fakeDataSource();
      const writer = new TaskStateWriter(dataSource, new FlowSettler());
      const active = writer.writeSoon('long', { status: 'active' });
      await jest.advanceTimersByTimeAsync(SOON_FLUSH_MS - 1);
      await tick();
      expect(statements).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      await tick();
      expect(statements).toHaveLength(1);
      statements[0].finish();
      await active;
    }));

  it('is flushed by drain() at once', async () => {
    const { dataSource, statements } = fakeDataSource();
    const writer = new TaskStateWriter(dataSource, new FlowSettler());
    void writer.writeSoon('d', { progress: { percent: 5 } });
    const drained = writer.drain();
    await tick();
    expect(statements).toHaveLength(1);
    statements[0].finish();
    await drained;
    expect(writer.backlog).toBe(0);
  });
});

describe('TaskStateWriter transition hooks', () => {
  function setup(wanted: (t: TaskTransition) => boolean) {
    const statements: string[] = [];
    const recorded: TaskTransition[][] = [];
    let transactions = 0;
    const manager = { query: jest.fn((sql: string) => Promise.resolve(statements.push(sql))) };
    const dataSource = {
      options: { type: 'postgres', extra: { max: 10 } },
      query: manager.query,
      transaction: jest.fn(async (_isolation: string, work: (m: typeof manager) => Promise<void>) => {
        transactions += 1;
        await work(manager);
      }),
    };
    const hooks: TaskTransitionHooks = {
      wants: jest.fn(wanted),
      record: jest.fn(async (m, transitions) => {
        expect(m).toBe(manager);
        recorded.push(transitions);
      }),
    };
    const writer = new TaskStateWriter(dataSource as unknown as DataSource, new FlowSettler(), undefined, hooks);
    return { writer, hooks, recorded, statements, transactions: () => transactions };
  }

  it('costs nothing when no hook wants the batch: no transaction, no call', async () => {
    const t = setup(() => false);
    await Promise.all([
      writer(t).write('x', { status: 'completed' }, { subject: { tenantId: 'a', type: 'k' } }),
      writer(t).write('y', { progress: { percent: 5 } }),
    ]);
    expect(t.transactions()).toBe(0);
    expect(t.hooks.record).not.toHaveBeenCalled();
    expect(t.statements).toHaveLength(2);
  });

  it('runs a batch with a wanted transition in one transaction and hands the hook only those, after the updates', async () => {
    const t = setup((transition) => transition.tenantId === 'a');
    await Promise.all([
      writer(t).write('x', { status: 'completed' }, { subject: { tenantId: 'a', type: 'k' } }),
      writer(t).write('y', { status: 'completed' }, { subject: { tenantId: 'b', type: 'k' } }),
      writer(t).write('z', { progress: { percent: 5 } }),
    ]);
    expect(t.transactions()).toBe(1);
    expect(t.recorded).toEqual([[{ taskId: 'x', status: 'completed', tenantId: 'a', type: 'k' }]]);
    expect(t.statements.length).toBeGreaterThan(0);
    expect(t.hooks.wants).toHaveBeenCalledTimes(2);
  });

  it('keeps the subject a later change brought when it merges into a pending one (a quick task: active + failed)', async () => {
    const t = setup(() => true);
    const soon = writer(t).writeSoon('x', { status: 'active' });
    await writer(t).write('x', { status: 'failed' }, { subject: { tenantId: 'a', type: 'k' } });
    await soon;
    expect(t.recorded).toEqual([[{ taskId: 'x', status: 'failed', tenantId: 'a', type: 'k' }]]);
  });

  const writer = (t: { writer: TaskStateWriter }) => t.writer;
});
