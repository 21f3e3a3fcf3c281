import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '@conveyor/database';
import { createTestDatabase, DIALECTS, taskRow, type TestDatabase } from '@conveyor/testing';
import {
  FLOW_POLICIES,
  FlowSettler,
  noCommitEffects,
  TaskEntity,
  TaskLedgerService,
  type CommitEffects,
  type CommitEffectsRelay,
  type FlowPolicy,
  type TaskStatus,
} from '@conveyor/tasks';
import { FlowSweeper, TaskStateWriter } from '@conveyor/tasks/worker';

function row(overrides: Partial<TaskEntity>): TaskEntity {
  return taskRow({ tenantId: 'flows', maxAttempts: 1, attemptBudget: 1, ...overrides });
}

/** The ways a child can end badly, as its worker writes them. */
const BAD_ENDS: Array<[TaskStatus, string]> = [
  ['failed', 'HANDLER_ERROR'],
  ['cancelled', 'CANCELLED'],
  ['expired', 'EXPIRED'],
];

describe.each(DIALECTS)('flows in the ledger on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let ledger: TaskLedgerService;
  let writer: TaskStateWriter;
  const settler = new FlowSettler();

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataSource = new DataSource(buildDataSourceOptions(database.config, [TaskEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    ledger = new TaskLedgerService(dataSource.getRepository(TaskEntity));
    writer = new TaskStateWriter(dataSource, settler);
  });

  afterAll(async () => {
    await writer?.onApplicationShutdown();
    await dataSource?.destroy();
    await database?.drop();
  });

  /** A root waiting for `children` (each with its policy); the first child is the one that ends badly. */
  async function flow(policies: Array<FlowPolicy>, tenantId = 'flows') {
    const root = row({ tenantId, type: 'system.gather', status: 'waiting' });
    root.rootId = root.id;
    const children = policies.map((onFailure) => row({ tenantId, parentId: root.id, rootId: root.id, onFailure, status: 'active' }));
    await ledger.insert([root, ...children]);
    return { root, children };
  }
  const end = (task: TaskEntity, status: TaskStatus, code?: string) =>
    writer.write(
      task.id,
      { status, finishedAt: new Date(), ...(code ? { error: { code, message: `ended ${status}` } } : { result: { ok: true } }) },
      { flowParent: { id: task.parentId!, tenantId: task.tenantId } },
    );
  const status = async (task: TaskEntity) => (await ledger.findOne(task.tenantId, task.id))!;

  describe.each(FLOW_POLICIES)('a child under %s', (policy) => {
    it.each(BAD_ENDS)('that ends %s: the parent ends or runs as the policy says, in the same commit', async (badStatus, code) => {
      const { root, children } = await flow([policy, 'fail-parent']);
      const [bad, sibling] = children;
      const effects = await end(bad, badStatus, code);
      const parent = await status(root);
      if (policy === 'fail-parent' || policy === 'cancel-siblings') {
        // Ends at once, without waiting for the sibling, and names the child.
        expect(parent.status).toBe('failed');
        expect(parent.error).toEqual({ code: 'CHILD_FAILED', message: expect.stringContaining(`child ${bad.id} (system.noop) ${badStatus}: ${code}`) });
        expect(effects.flowsFinished).toEqual(['failed']);
        expect(effects.queue).toEqual([]);
        if (policy === 'cancel-siblings') {
          expect((await status(sibling)).status).toBe('cancelled');
          expect(effects.cancelled).toEqual([{ id: sibling.id, queue: 'system', onFailure: 'fail-parent' }]);
        } else {
          expect((await status(sibling)).status).toBe('active');
          expect(effects.cancelled).toEqual([]);
        }
        return;
      }
      // ignore / continue: one more ended child; the parent runs once the sibling ends too.
      expect(parent.status).toBe('waiting');
      expect(effects.queue).toEqual([]);
      const last = await end(sibling, 'completed');
      expect((await status(root)).status).toBe('queued');
      expect(last.queue.map((task) => task.id)).toEqual([root.id]);
    });
  });

  it('releases a parent exactly once when its children end at the same instant in separate transactions', async () => {
    const { root, children } = await flow(Array.from({ length: 24 }, () => 'fail-parent' as const));
    // One writer per child: each end commits in a transaction of its own, all at once.
    const writers = children.map(() => new TaskStateWriter(dataSource, settler));
    try {
      const all = await Promise.all(
        children.map((child, index) =>
          writers[index].write(child.id, { status: 'completed', finishedAt: new Date() }, { flowParent: { id: root.id, tenantId: 'flows' } }),
        ),
      );
      expect((await status(root)).status).toBe('queued');
      expect(all.flatMap((effects) => effects.queue.map((task) => task.id))).toEqual([root.id]);
    } finally {
      await Promise.all(writers.map((w) => w.onApplicationShutdown()));
    }
  });

  it('carries a failure up every level whose edge fails its parent, and stops at one that does not', async () => {
    // root <-(continue)- middle <-(fail-parent)- leaf, and a sibling of middle still running.
    const root = row({ type: 'system.gather', status: 'waiting' });
    root.rootId = root.id;
    const middle = row({ type: 'system.gather', status: 'waiting', parentId: root.id, rootId: root.id, onFailure: 'continue' });
    const uncle = row({ status: 'active', parentId: root.id, rootId: root.id, onFailure: 'fail-parent' });
    const leaf = row({ status: 'active', parentId: middle.id, rootId: root.id, onFailure: 'fail-parent' });
    await ledger.insert([root, middle, uncle, leaf]);
    await end(leaf, 'failed', 'HANDLER_ERROR');
    expect((await status(middle)).status).toBe('failed');
    expect((await status(middle)).error?.code).toBe('CHILD_FAILED');
    // `continue`: the root waits for its other child and then runs, seeing middle's failure.
    expect((await status(root)).status).toBe('waiting');
    const effects = await end(uncle, 'completed');
    expect((await status(root)).status).toBe('queued');
    expect(effects.queue.map((task) => task.id)).toEqual([root.id]);
  });

  it('cancels a subtree: every unfinished node under it, through finished ones, and settles its parent', async () => {
    const root = row({ type: 'system.gather', status: 'waiting' });
    root.rootId = root.id;
    const failedMiddle = row({ type: 'system.gather', status: 'failed', parentId: root.id, rootId: root.id, onFailure: 'ignore' });
    const running = row({ status: 'active', parentId: failedMiddle.id, rootId: root.id, onFailure: 'fail-parent' });
    const done = row({ status: 'completed', parentId: failedMiddle.id, rootId: root.id, onFailure: 'fail-parent' });
    const other = row({ status: 'queued', parentId: root.id, rootId: root.id, onFailure: 'ignore' });
    await ledger.insert([root, failedMiddle, running, done, other]);
    const effects = noCommitEffects();
    await ledger.inTransaction(async (manager) => {
      await settler.cancelSubtrees(manager, 'flows', root.id, [other.id], { code: 'CANCELLED', message: 'x' }, effects);
      await settler.settle(manager, [{ id: root.id, tenantId: 'flows' }], effects);
    });
    // `other` cancelled under `ignore`: with failedMiddle (ignore) ended too, the root runs.
    expect((await status(other)).status).toBe('cancelled');
    expect((await status(root)).status).toBe('queued');
    expect(effects.queue.map((task) => task.id)).toEqual([root.id]);

    const fromRoot = noCommitEffects();
    await ledger.inTransaction((manager) => settler.cancelSubtrees(manager, 'flows', root.id, [root.id], { code: 'CANCELLED', message: 'x' }, fromRoot));
    expect(fromRoot.cancelled.map((task) => task.id).sort()).toEqual([root.id, running.id].sort());
    expect(fromRoot.flowsFinished).toEqual(['cancelled']);
    expect((await status(running)).status).toBe('cancelled');
    expect((await status(done)).status).toBe('completed');
  });

  it('sweeps a parent its children left waiting (ended without settling it), and only such a parent', async () => {
    const stranded = await flow(['fail-parent', 'ignore'], 'sweep');
    const healthy = await flow(['fail-parent'], 'sweep');
    const failing = await flow(['fail-parent', 'ignore'], 'sweep');
    // Ends written behind the settler's back, as a bug or a hand edit would.
    const repository = dataSource.getRepository(TaskEntity);
    await repository.update(
      stranded.children.map((child) => child.id),
      { status: 'completed' },
    );
    await repository.update(failing.children[0].id, { status: 'failed', error: { code: 'X', message: 'y' } });
    const applied: CommitEffects[] = [];
    const sweeper = new FlowSweeper(repository, ledger, settler, { apply: (effects: CommitEffects) => applied.push(effects) } as unknown as CommitEffectsRelay);
    expect(await sweeper.sweep(new Date(Date.now() + 1000))).toBe(2);
    expect((await status(stranded.root)).status).toBe('queued');
    expect((await status(failing.root)).status).toBe('failed');
    expect((await status(healthy.root)).status).toBe('waiting');
    expect(applied.flatMap((effects) => effects.queue.map((task) => task.id))).toEqual([stranded.root.id]);
    // Settled: nothing left for the next pass.
    expect(await sweeper.sweep(new Date(Date.now() + 1000))).toBe(0);
  });
});
