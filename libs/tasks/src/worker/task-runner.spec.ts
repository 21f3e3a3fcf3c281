import type { PinoLogger } from 'nestjs-pino';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { AppConfig } from '@conveyor/config';
import type { ErrorReporter, TaskMetrics } from '@conveyor/observability';
import { TaskFailure, TaskTimeoutError } from '../contracts/task-failure';
import type { TaskContext, TaskHandler } from '../contracts/task-handler';
import { IsInt } from 'class-validator';
import { defineTaskType } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { JobRelay, PreparedTask } from '../intake/job-relay';
import { TaskFactory } from '../intake/task-factory';
import { CommitEffectsRelay } from '../flows/commit-effects.relay';
import type { FlowChildren } from '../flows/flow-children';
import type { TaskEntity } from '../ledger/task.entity';
import type { CompletedJobRetention } from './completed-job-retention';
import type { TaskStateWriter } from './task-state-writer';
import type { TaskLogWriter } from '../task-logs/task-log-writer';
import type { TaskJobData } from '../task-job';
import { retryBackoffStrategy } from '../retry-policy';
import { TaskRunner } from './task-runner';

class SpecPayload {}
class ChildPayload {
  @IsInt()
  n: number;
}
const CHILD_TYPE = defineTaskType<ChildPayload, unknown>({ type: 'spec.child', queue: 'spec-queue', description: 'a follow-up', payload: ChildPayload });
const OTHER_TYPE = defineTaskType({ type: 'spec.other', queue: 'spec-queue', description: 'not declared', payload: SpecPayload });
const STEP_TYPE = defineTaskType<ChildPayload, unknown>({
  type: 'spec.step',
  queue: 'spec-queue',
  description: 'a pipeline step',
  payload: ChildPayload,
  pipeline: { takes: { n: 'count' } },
});
const SPEC_TYPE = defineTaskType({ type: 'spec.run', queue: 'spec-queue', description: 'runner spec', payload: SpecPayload, followUps: [CHILD_TYPE] });
const TASK_ID = '01936f7c-0000-7000-8000-000000000001';

interface Options {
  attemptsMade?: number;
  /** BullMQ's count of starts, this one included; defaults to attemptsMade + 1 (no stalls). */
  attemptsStarted?: number;
  attempts?: number;
  timeoutMs?: number;
  expiresAt?: number;
  progressIntervalMs?: number;
  /** WORKER_WRITE_BEHIND_MAX; off (the ledger first) unless a test turns it on. */
  writeBehindMax?: number;
}

function setup(handle: TaskHandler['handle'], options: Options = {}) {
  const job = {
    id: TASK_ID,
    name: SPEC_TYPE.type,
    attemptsMade: options.attemptsMade ?? 0,
    attemptsStarted: options.attemptsStarted ?? (options.attemptsMade ?? 0) + 1,
    timestamp: Date.now() - 5000,
    opts: { attempts: 'attempts' in options ? options.attempts : 3, delay: 2000 },
    data: { tenantId: 'tenant-a', payload: { n: 1 }, timeoutMs: options.timeoutMs ?? 10_000, expiresAt: options.expiresAt },
    updateProgress: jest.fn().mockResolvedValue(undefined),
    moveToWait: jest.fn().mockResolvedValue(0),
  };
  // One recorder for both: the order of all state changes is what most tests check.
  const write = jest.fn().mockResolvedValue({ queue: [], cancelled: [], flowsFinished: [] });
  const soon: string[] = [];
  const writer = {
    write,
    soon,
    backlog: 0,
    writeSoon: jest.fn((id: string, patch: Record<string, unknown>) => {
      soon.push(Object.keys(patch).join(','));
      return write(id, patch);
    }),
  };
  const metrics = {
    attemptStarted: jest.fn(),
    completed: jest.fn(),
    failed: jest.fn(),
    enqueued: jest.fn(),
    flowChildFailed: jest.fn(),
    flowFinished: jest.fn(),
    completionRecorded: jest.fn(),
  };
  const logger = {
    runInContext: jest.fn((fn: () => unknown) => fn()),
    info: jest.fn(),
    warn: jest.fn(),
    error: jest.fn(),
    logger: { name: 'task-logger', info: jest.fn(), warn: jest.fn(), error: jest.fn() },
  };
  const config = {
    worker: { id: 'worker-1', writeBehindMax: options.writeBehindMax ?? 0 },
    tasks: {
      progressIntervalMs: options.progressIntervalMs ?? 1000,
      maxResultBytes: 1024 * 1024,
      maxAttempts: 3,
      timeoutMs: 60_000,
      logMaxLines: 1000,
      logMaxBytes: 65_536,
    },
    limits: { json: { maxDepth: 64, maxKeys: 1000, maxArrayLength: 10_000, maxNodes: 100_000 } },
  } as unknown as AppConfig;
  const registry = new TaskTypeRegistry();
  registry.register([SPEC_TYPE, CHILD_TYPE, OTHER_TYPE, STEP_TYPE]);
  // The follow-ups a completion committed are what the writer hands back; here, all it was given.
  const writeCompletion = jest.fn((_id: string, _patch: Record<string, unknown>, rows: TaskEntity[]) =>
    Promise.resolve({ queue: rows, cancelled: [], flowsFinished: [] }),
  );
  Object.assign(writer, { writeCompletion });
  const relay = { add: jest.fn((prepared: PreparedTask[]) => Promise.resolve(prepared.map(() => 'added'))) };
  const retention = { keep: jest.fn(), ledgered: jest.fn() };
  const logWriter = { append: jest.fn() };
  const reporter = { taskFailed: jest.fn() };
  const runner = new TaskRunner(
    config,
    writer as unknown as TaskStateWriter,
    metrics as unknown as TaskMetrics,
    logger as unknown as PinoLogger,
    new TaskFactory(config, registry),
    new CommitEffectsRelay(registry, relay as unknown as JobRelay, metrics as unknown as TaskMetrics),
    { of: jest.fn().mockResolvedValue([]) } as unknown as FlowChildren,
    registry,
    retention as unknown as CompletedJobRetention,
    logWriter as unknown as TaskLogWriter,
    reporter as unknown as ErrorReporter,
  );
  const handler = { handle: jest.fn(handle) };
  const lease = { token: 'lock-token', signal: new AbortController().signal };
  const run = (leaseOverride = lease) => runner.run(job as unknown as Job<TaskJobData>, { definition: SPEC_TYPE, handler }, leaseOverride);
  const statuses = () => writer.write.mock.calls.map(([, patch]) => patch.status).filter(Boolean);
  const patchWith = (status: string) => writer.write.mock.calls.find(([, patch]) => patch.status === status)?.[1];
  return { job, writer, metrics, logger, handler, run, statuses, patchWith, runner, writeCompletion, relay, retention, logWriter, reporter };
}

describe('TaskRunner', () => {
  it('gives the handler ctx.log: lines go to the bound logger and to the log writer with the attempt', async () => {
    const t = setup(async (_payload, ctx) => {
      ctx.log.info('reading', { rows: 3 });
      ctx.log.error('bad row');
      return null;
    });
    await t.run();
    expect(t.logger.logger.info).toHaveBeenCalledWith({ rows: 3 }, 'reading');
    expect(t.logger.logger.error).toHaveBeenCalledWith('bad row');
    expect(t.logWriter.append.mock.calls.map(([row]) => [row.taskId, row.attempt, row.level, row.message, row.fields])).toEqual([
      [TASK_ID, 1, 'info', 'reading', '{"rows":3}'],
      [TASK_ID, 1, 'error', 'bad row', null],
    ]);
  });

  it('records active then completed with the result, counts it and returns the result', async () => {
    const t = setup(async () => ({ rows: 3 }));
    await expect(t.run()).resolves.toEqual({ rows: 3 });

    expect(t.statuses()).toEqual(['active', 'completed']);
    for (const [taskId] of t.writer.write.mock.calls) expect(taskId).toBe(TASK_ID);
    expect(t.patchWith('active')).toEqual({
      status: 'active',
      attempts: 1,
      startedAt: expect.any(Date),
      finishedAt: null,
      workerId: 'worker-1',
    });
    expect(t.patchWith('completed')).toEqual({ status: 'completed', result: { rows: 3 }, error: null, finishedAt: expect.any(Date) });
    // "active" may wait for company (it merges with a quick task's "completed"); the terminal state is flushed at once.
    expect(t.writer.soon).toEqual(['status,attempts,startedAt,finishedAt,workerId']);
    expect(t.metrics.completed).toHaveBeenCalledWith('spec.run', 'spec-queue', expect.any(Number), 'tenant-a');
    expect(t.metrics.failed).not.toHaveBeenCalled();
  });

  describe('write-behind (WORKER_WRITE_BEHIND_MAX)', () => {
    const neverCommits = <T>() => new Promise<T>(() => undefined);

    it('returns a plain completion before the ledger commits it, keeps the job, and releases it once committed', async () => {
      const t = setup(async () => ({ ok: true }), { writeBehindMax: 10 });
      let commit!: (effects: unknown) => void;
      t.writer.write.mockImplementation((_id: string, patch: { status?: string }) =>
        patch.status === 'completed' ? new Promise((resolve) => (commit = resolve)) : Promise.resolve({ queue: [], cancelled: [], flowsFinished: [] }),
      );
      await expect(t.run()).resolves.toEqual({ ok: true });
      expect(t.retention.keep).toHaveBeenCalledWith(t.job);
      expect(t.retention.ledgered).not.toHaveBeenCalled();
      expect(t.metrics.completionRecorded).toHaveBeenCalledWith('behind');
      commit({ queue: [], cancelled: [], flowsFinished: [] });
      await new Promise(setImmediate);
      expect(t.retention.ledgered).toHaveBeenCalledWith(t.job);
    });

    it('waits for the ledger when WORKER_WRITE_BEHIND_MAX is 0 or the backlog is past it', async () => {
      for (const [max, backlog] of [
        [0, 0],
        [10, 11],
      ]) {
        const t = setup(async () => ({ ok: true }), { writeBehindMax: max });
        t.writer.backlog = backlog;
        t.writer.write.mockImplementation((_id: string, patch: { status?: string }) =>
          patch.status === 'completed' ? neverCommits() : Promise.resolve({ queue: [], cancelled: [], flowsFinished: [] }),
        );
        const outcome = await Promise.race([t.run().then(() => 'returned'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))]);
        expect({ max, backlog, outcome }).toEqual({ max, backlog, outcome: 'waiting' });
        expect(t.retention.keep).toHaveBeenCalled();
        // Counted only when write-behind is on and the backlog made the completion wait.
        expect(t.metrics.completionRecorded.mock.calls).toEqual(max > 0 ? [['waited']] : []);
      }
    });

    it('never writes behind a completion with follow-ups, a flow node or a failure', async () => {
      const withFollowUp = setup(
        async (_payload, ctx) => {
          await ctx.enqueue(CHILD_TYPE, { n: 1 });
          return null;
        },
        { writeBehindMax: 10 },
      );
      withFollowUp.writeCompletion.mockImplementation(neverCommits);
      const flowNode = setup(async () => null, { writeBehindMax: 10 });
      Object.assign(flowNode.job.data, { parentId: 'parent', rootId: 'parent', onFailure: 'fail-parent' });
      const failing = setup(
        async () => {
          throw new Error('no');
        },
        { writeBehindMax: 10 },
      );
      for (const t of [flowNode, failing]) {
        t.writer.write.mockImplementation((_id: string, patch: { status?: string }) =>
          patch.status === 'active' ? Promise.resolve({ queue: [], cancelled: [], flowsFinished: [] }) : neverCommits(),
        );
      }
      const outcomes = await Promise.all(
        [withFollowUp, flowNode, failing].map((t) =>
          Promise.race([
            t.run().then(
              () => 'returned',
              () => 'threw',
            ),
            new Promise((resolve) => setTimeout(() => resolve('waiting'), 50)),
          ]),
        ),
      );
      expect(outcomes).toEqual(['waiting', 'waiting', 'waiting']);
      expect(failing.retention.keep).not.toHaveBeenCalled();
    });
  });

  it('measures the wait from when the task could first run, after its delay', async () => {
    const t = setup(async () => null);
    await t.run();
    const [type, queue, waitSeconds] = t.metrics.attemptStarted.mock.calls[0];
    expect([type, queue]).toEqual(['spec.run', 'spec-queue']);
    // created 5 s ago with a 2 s delay: about 3 s of waiting
    expect(waitSeconds).toBeGreaterThanOrEqual(3);
    expect(waitSeconds).toBeLessThan(4);
  });

  it('passes the payload and a context describing the attempt, inside a log context', async () => {
    const t = setup(async () => null, { attemptsMade: 1, attempts: 4 });
    await t.run();
    const [payload, context] = t.handler.handle.mock.calls[0] as [unknown, TaskContext];
    expect(payload).toEqual({ n: 1 });
    expect(context).toMatchObject({ taskId: TASK_ID, tenantId: 'tenant-a', type: 'spec.run', attempt: 2, maxAttempts: 4 });
    expect(context.logger).toBe(t.logger.logger);
    expect(context.signal.aborted).toBe(false);
    expect(t.logger.runInContext).toHaveBeenCalledWith(expect.any(Function), {
      bindings: { taskId: TASK_ID, taskType: 'spec.run', attempt: 2, tenantId: 'tenant-a', queue: 'spec-queue' },
    });
  });

  it("binds a follow-up's parentId and rootId to every log line of its attempt", async () => {
    const t = setup(async () => null);
    Object.assign(t.job.data, { parentId: 'parent-task', rootId: 'root-task' });
    await t.run();
    expect(t.logger.runInContext).toHaveBeenCalledWith(expect.any(Function), {
      bindings: { taskId: TASK_ID, taskType: 'spec.run', attempt: 1, tenantId: 'tenant-a', queue: 'spec-queue', parentId: 'parent-task', rootId: 'root-task' },
    });
  });

  it('stores null when the handler returns nothing', async () => {
    const t = setup(async () => undefined);
    await expect(t.run()).resolves.toBeNull();
    expect(t.patchWith('completed')!.result).toBeNull();
  });

  it('marks a failed first attempt of three as retrying with HANDLER_ERROR, when it runs next, and rethrows the same error', async () => {
    const failure = new Error('disk full');
    const t = setup(async () => {
      throw failure;
    });
    const before = Date.now();
    const thrown = await t.run().catch((e: unknown) => e);
    expect(thrown).toBe(failure);
    expect(t.statuses()).toEqual(['active', 'retrying']);
    const patch = t.patchWith('retrying')!;
    expect(patch).toEqual({ status: 'retrying', error: { code: 'HANDLER_ERROR', message: 'disk full' }, scheduledFor: expect.any(Date) });
    // the type's backoff (default: exponential from 1 s, half of it random) decides the wait,
    // and BullMQ gets the same wait through the error
    const delayMs = retryBackoffStrategy(1, 'conveyor', failure);
    expect(delayMs).toBeGreaterThanOrEqual(500);
    expect(delayMs).toBeLessThan(1000);
    const failedAt = (patch.scheduledFor as Date).getTime() - delayMs;
    expect(failedAt).toBeGreaterThanOrEqual(before);
    expect(failedAt).toBeLessThanOrEqual(Date.now());
    expect(patch).not.toHaveProperty('finishedAt');
    expect(t.metrics.failed).toHaveBeenCalledWith('spec.run', 'spec-queue', 'HANDLER_ERROR', false, expect.any(Number), 'tenant-a');
    expect(t.metrics.completed).not.toHaveBeenCalled();
    // Only a final failure is reported.
    expect(t.reporter.taskFailed).not.toHaveBeenCalled();
  });

  it('marks a failure on the last attempt as failed with finishedAt', async () => {
    const failure = new Error('still broken');
    const t = setup(
      async () => {
        throw failure;
      },
      { attemptsMade: 2, attempts: 3 },
    );
    await expect(t.run()).rejects.toBe(failure);
    expect(t.patchWith('failed')).toEqual({
      status: 'failed',
      error: { code: 'HANDLER_ERROR', message: 'still broken' },
      finishedAt: expect.any(Date),
    });
    expect(t.reporter.taskFailed).toHaveBeenCalledWith(failure, {
      taskId: TASK_ID,
      type: 'spec.run',
      queue: 'spec-queue',
      attempt: 3,
      tenantId: 'tenant-a',
      code: 'HANDLER_ERROR',
      payload: { n: 1 },
    });
    expect(t.metrics.failed).toHaveBeenCalledWith('spec.run', 'spec-queue', 'HANDLER_ERROR', true, expect.any(Number), 'tenant-a');
  });

  it('counts a run a crash cut short as an attempt in the ledger, but not against the retry budget', async () => {
    // Started twice (the first run's worker died), failed never before: attempt 2 of the
    // ledger, yet BullMQ retries it, so the row says retrying, not failed.
    const failure = new Error('flaky');
    const t = setup(
      async () => {
        throw failure;
      },
      { attemptsMade: 0, attemptsStarted: 2, attempts: 2 },
    );
    await expect(t.run()).rejects.toBe(failure);
    expect(t.patchWith('active')).toMatchObject({ attempts: 2 });
    expect(t.statuses()).toEqual(['active', 'retrying']);
  });

  describe('follow-ups', () => {
    it('writes them with the completion, as children of the task, and queues what the commit returns', async () => {
      const t = setup(async (_payload, context) => {
        await context.enqueue(CHILD_TYPE, { n: 1 });
        await context.enqueue(CHILD_TYPE, { n: 2 }, { key: 'second', priority: 2, tags: ['x'] });
        return { ok: true };
      });
      await expect(t.run()).resolves.toEqual({ ok: true });
      expect(t.writeCompletion).toHaveBeenCalledTimes(1);
      const [taskId, patch, rows] = t.writeCompletion.mock.calls[0];
      expect({ taskId, status: patch.status }).toEqual({ taskId: TASK_ID, status: 'completed' });
      expect(
        rows.map((r) => ({
          type: r.type,
          payload: r.payload,
          parentId: r.parentId,
          rootId: r.rootId,
          key: r.idempotencyKey,
          priority: r.priority,
          tenantId: r.tenantId,
        })),
      ).toEqual([
        {
          type: 'spec.child',
          payload: { n: 1 },
          parentId: TASK_ID,
          rootId: TASK_ID,
          key: `conveyor:follow-up:${TASK_ID}:0`,
          priority: 5,
          tenantId: 'tenant-a',
        },
        {
          type: 'spec.child',
          payload: { n: 2 },
          parentId: TASK_ID,
          rootId: TASK_ID,
          key: `conveyor:follow-up:${TASK_ID}:second`,
          priority: 2,
          tenantId: 'tenant-a',
        },
      ]);
      const jobs = t.relay.add.mock.calls[0][0];
      expect(jobs.map((p) => ({ id: p.job.opts.jobId, parentId: p.job.data.parentId, rootId: p.job.data.rootId }))).toEqual(
        rows.map((r) => ({ id: r.id, parentId: TASK_ID, rootId: TASK_ID })),
      );
      expect(t.metrics.enqueued).toHaveBeenCalledTimes(2);
    });

    it('keeps the root of a chain: a follow-up of a follow-up has the first task as its root', async () => {
      const t = setup(async (_payload, context) => {
        await context.enqueue(CHILD_TYPE, { n: 1 });
        return null;
      });
      t.job.data = { ...t.job.data, parentId: 'p-1', rootId: 'root-1' } as typeof t.job.data;
      await t.run();
      expect(t.writeCompletion.mock.calls[0][2][0]).toMatchObject({ parentId: TASK_ID, rootId: 'root-1' });
    });

    it('refuses a type the contract did not declare, and an invalid payload, for good', async () => {
      for (const [ask, code] of [
        [(c: TaskContext) => c.enqueue(OTHER_TYPE, {}), 'FOLLOW_UP_NOT_DECLARED'],
        [(c: TaskContext) => c.enqueue(CHILD_TYPE, { n: 'one' } as unknown as ChildPayload), 'INVALID_FOLLOW_UP'],
        [(c: TaskContext) => c.enqueue(CHILD_TYPE, { n: 1 }, { key: 'a' }).then(() => c.enqueue(CHILD_TYPE, { n: 2 }, { key: 'a' })), 'FOLLOW_UP_KEY_REUSED'],
      ] as const) {
        const t = setup(async (_payload, context) => {
          await ask(context);
          return null;
        });
        await expect(t.run()).rejects.toBeInstanceOf(UnrecoverableError);
        expect(t.patchWith('failed')!.error).toMatchObject({ code });
        expect(t.writeCompletion).not.toHaveBeenCalled();
      }
    });

    it('starts the next step of a pipeline as one more follow-up, handed the input and carrying the steps after it', async () => {
      const t = setup(async (_payload, context) => {
        await context.enqueue(CHILD_TYPE, { n: 1 });
        return { done: true };
      });
      const steps = [{ type: 'spec.step', priority: 3 }, { type: 'spec.step' }];
      t.job.data = { ...t.job.data, pipeline: { input: { count: 4 }, steps }, parentId: 'p-1', rootId: 'root-1' } as typeof t.job.data;
      await expect(t.run()).resolves.toEqual({ done: true });
      const rows = t.writeCompletion.mock.calls[0][2];
      expect(
        rows.map((r) => ({ type: r.type, payload: r.payload, key: r.idempotencyKey, priority: r.priority, pipeline: r.pipeline, rootId: r.rootId })),
      ).toEqual([
        { type: 'spec.child', payload: { n: 1 }, key: `conveyor:follow-up:${TASK_ID}:0`, priority: 5, pipeline: null, rootId: 'root-1' },
        {
          type: 'spec.step',
          payload: { n: 4 },
          key: `conveyor:follow-up:${TASK_ID}:pipeline:next`,
          priority: 3,
          pipeline: { input: { count: 4 }, steps: [{ type: 'spec.step' }] },
          rootId: 'root-1',
        },
      ]);
      // The job carries the rest too, so the step goes on without reading its row.
      expect(t.relay.add.mock.calls[0][0][1].job.data.pipeline).toEqual({ input: { count: 4 }, steps: [{ type: 'spec.step' }] });
    });

    it('starts no step when a task of a pipeline fails, and keeps the pipeline key from handlers', async () => {
      const failing = setup(async () => {
        throw new TaskFailure('BROKEN', 'no', false);
      });
      failing.job.data = { ...failing.job.data, pipeline: { input: {}, steps: [{ type: 'spec.step' }] } } as typeof failing.job.data;
      await expect(failing.run()).rejects.toBeInstanceOf(UnrecoverableError);
      expect(failing.writeCompletion).not.toHaveBeenCalled();
      expect(failing.relay.add).not.toHaveBeenCalled();

      const reserved = setup(async (_payload, context) => {
        await context.enqueue(CHILD_TYPE, { n: 1 }, { key: 'pipeline:next' });
        return null;
      });
      await expect(reserved.run()).rejects.toBeInstanceOf(UnrecoverableError);
      expect(reserved.patchWith('failed')!.error).toMatchObject({ code: 'INVALID_FOLLOW_UP' });
    });

    it('creates none when the attempt fails after asking', async () => {
      const t = setup(async (_payload, context) => {
        await context.enqueue(CHILD_TYPE, { n: 1 });
        throw new Error('later');
      });
      await expect(t.run()).rejects.toThrow('later');
      expect(t.writeCompletion).not.toHaveBeenCalled();
      expect(t.relay.add).not.toHaveBeenCalled();
      expect(t.statuses()).toEqual(['active', 'retrying']);
    });
  });

  it('treats a job without an attempts option as a single attempt', async () => {
    const t = setup(
      async () => {
        throw new Error('x');
      },
      { attempts: undefined },
    );
    await expect(t.run()).rejects.toThrow('x');
    expect(t.statuses()).toEqual(['active', 'failed']);
  });

  it('keeps the code of a retryable TaskFailure and retries it', async () => {
    const failure = new TaskFailure('UPSTREAM_BUSY', 'try later');
    const t = setup(async () => {
      throw failure;
    });
    await expect(t.run()).rejects.toBe(failure);
    expect(t.patchWith('retrying')!.error).toEqual({ code: 'UPSTREAM_BUSY', message: 'try later' });
  });

  it("ends a non-retryable TaskFailure at once with BullMQ's UnrecoverableError", async () => {
    const t = setup(async () => {
      throw new TaskFailure('BAD_INPUT', 'column "x" does not exist', false);
    });
    const thrown = await t.run().catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect((thrown as Error).message).toBe('column "x" does not exist');
    expect(t.patchWith('failed')).toEqual({
      status: 'failed',
      error: { code: 'BAD_INPUT', message: 'column "x" does not exist' },
      finishedAt: expect.any(Date),
    });
    expect(t.metrics.failed).toHaveBeenCalledWith('spec.run', 'spec-queue', 'BAD_INPUT', true, expect.any(Number), 'tenant-a');
  });

  it.each([
    ['a BigInt', () => ({ rows: 10n }), 'RESULT_NOT_SERIALIZABLE', /BigInt/],
    [
      'a cycle',
      () => {
        const node: Record<string, unknown> = {};
        node.self = node;
        return node;
      },
      'RESULT_NOT_SERIALIZABLE',
      /circular/i,
    ],
    ['a function', () => () => 1, 'RESULT_NOT_SERIALIZABLE', /function, which has no JSON form/],
    ['2 MiB of JSON', () => ({ text: 'x'.repeat(2 * 1024 * 1024) }), 'RESULT_TOO_LARGE', /2097163 bytes as JSON, over TASK_MAX_RESULT_BYTES \(1048576\)/],
  ])('fails a task whose result is %s for good, without retrying', async (_, make, code, message) => {
    const t = setup(async () => make());
    const thrown = await t.run().catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect(t.statuses()).toEqual(['active', 'failed']);
    expect(t.patchWith('failed')!.error.code).toBe(code);
    expect(t.patchWith('failed')!.error.message).toMatch(message);
    expect(t.metrics.completed).not.toHaveBeenCalled();
  });

  it('records a thrown non-Error and cuts long messages to 2000 characters', async () => {
    const t = setup(async () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a handler throwing a non-Error is the case under test
      throw 'x'.repeat(5000);
    });
    // BullMQ is handed an Error (it records `message`), carrying the wait the runner decided.
    await expect(t.run()).rejects.toThrow('x'.repeat(5000));
    expect(t.patchWith('retrying')!.error).toEqual({ code: 'HANDLER_ERROR', message: 'x'.repeat(2000) });
  });

  it("fails an attempt that runs past its time limit with TIMEOUT and aborts the handler's signal", async () => {
    let signal: AbortSignal | undefined;
    const t = setup(
      (_payload, context) => {
        signal = context.signal;
        return new Promise(() => undefined); // never settles, ignores its signal
      },
      { timeoutMs: 50 },
    );
    const started = Date.now();
    const thrown = await t.run().catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(thrown).toBeInstanceOf(TaskTimeoutError);
    expect(thrown).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBe(thrown);
    expect(t.patchWith('retrying')!.error).toEqual({ code: 'TIMEOUT', message: 'attempt exceeded its 50 ms time limit' });
    expect(t.metrics.failed).toHaveBeenCalledWith('spec.run', 'spec-queue', 'TIMEOUT', false, expect.any(Number), 'tenant-a');
  });

  it('clears its time limit when the handler finishes in time', async () => {
    jest.useFakeTimers();
    try {
      const t = setup(async () => 'done', { timeoutMs: 60_000 });
      await expect(t.run()).resolves.toBe('done');
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not run an expired task: records expired and completes the job', async () => {
    const t = setup(async () => 'should not run', { expiresAt: Date.now() - 1000 });
    await expect(t.run()).resolves.toBeNull();
    expect(t.handler.handle).not.toHaveBeenCalled();
    expect(t.writer.write).toHaveBeenCalledTimes(1);
    expect(t.writer.write).toHaveBeenCalledWith(
      TASK_ID,
      {
        status: 'expired',
        error: { code: 'EXPIRED', message: expect.any(String) },
        finishedAt: expect.any(Date),
      },
      // Who the change is about, for the transition hooks (webhooks).
      { subject: { tenantId: 'tenant-a', type: 'spec.run', flowRoot: false, callback: false } },
    );
    expect(t.metrics.attemptStarted).not.toHaveBeenCalled();
    expect(t.metrics.completed).not.toHaveBeenCalled();
  });

  it('runs a task whose deadline is still ahead', async () => {
    const t = setup(async () => 'ran', { expiresAt: Date.now() + 60_000 });
    await expect(t.run()).resolves.toBe('ran');
    expect(t.statuses()).toEqual(['active', 'completed']);
  });

  describe('progress', () => {
    const progressWrites = (t: ReturnType<typeof setup>) =>
      t.writer.write.mock.calls.filter(([, patch]) => 'progress' in patch).map(([, patch]) => patch.progress);

    it('writes one of several quick updates, and always the 100% one', async () => {
      const t = setup(async (_payload, context) => {
        context.progress(10, 'reading');
        context.progress(20);
        context.progress(30);
        context.progress(100, 'done');
        return null;
      });
      await t.run();
      expect(progressWrites(t)).toEqual([
        { percent: 10, message: 'reading' },
        { percent: 100, message: 'done' },
      ]);
      expect(t.job.updateProgress.mock.calls.map(([p]) => p)).toEqual([
        { percent: 10, message: 'reading' },
        { percent: 100, message: 'done' },
      ]);
    });

    it('cuts a progress message to 500 characters', async () => {
      const t = setup(async (_payload, context) => {
        context.progress(100, 'y'.repeat(2000));
        return null;
      });
      await t.run();
      expect(progressWrites(t)).toEqual([{ percent: 100, message: 'y'.repeat(500) }]);
    });

    it('writes again once the interval has passed, rounded and clamped', async () => {
      jest.useFakeTimers({ now: 1_700_000_000_000 });
      try {
        const t = setup(async (_payload, context) => {
          context.progress(33.333);
          jest.setSystemTime(Date.now() + 500);
          context.progress(50); // inside the 1000 ms interval: dropped
          jest.setSystemTime(Date.now() + 600);
          context.progress(-5);
          jest.setSystemTime(Date.now() + 1000);
          context.progress(150);
          return null;
        });
        await t.run();
        expect(progressWrites(t)).toEqual([{ percent: 33.3 }, { percent: 0 }, { percent: 100 }]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('does not fail the task when BullMQ refuses a progress update', async () => {
      const t = setup(async (_payload, context) => {
        context.progress(100);
        return 'ok';
      });
      t.job.updateProgress.mockRejectedValue(new Error('Missing key for job'));
      await expect(t.run()).resolves.toBe('ok');
    });
  });

  describe('interruption by the worker (end of the shutdown grace)', () => {
    it('releases the task to the queue without using an attempt: queued + INTERRUPTED, moveToWait, WaitingError', async () => {
      const bullmq = new AbortController();
      let seen: AbortSignal | undefined;
      const { job, writer, handler, run, patchWith } = setup((_payload, context) => {
        seen = context.signal;
        return new Promise(() => undefined); // ignores its signal on purpose
      });
      const running = run({ token: 'lock-token', signal: bullmq.signal });
      await new Promise((resolve) => setImmediate(resolve));
      bullmq.abort('shutdown');
      await expect(running).rejects.toBeInstanceOf(WaitingError);
      expect(handler.handle).toHaveBeenCalledTimes(1);
      expect(seen!.aborted).toBe(true);
      expect(patchWith('queued')).toMatchObject({ status: 'queued', error: { code: 'INTERRUPTED' } });
      expect(job.moveToWait).toHaveBeenCalledWith('lock-token');
      expect(writer.write.mock.calls.some(([, patch]) => patch.status === 'failed' || patch.status === 'retrying')).toBe(false);
    });

    it("does not start the handler's work in earnest when the lease was already cancelled", async () => {
      const bullmq = new AbortController();
      bullmq.abort('shutdown');
      let seen: AbortSignal | undefined;
      const { run } = setup((_payload, context) => {
        seen = context.signal;
        return new Promise(() => undefined);
      });
      await expect(run({ token: 't', signal: bullmq.signal })).rejects.toBeInstanceOf(WaitingError);
      expect(seen?.aborted ?? true).toBe(true);
    });
  });

  it('fails a job of a type without a handler for good, with UNKNOWN_TASK_TYPE', async () => {
    const { job, runner, writer } = setup(async () => 'never');
    await expect(runner.rejectUnknownType(job as unknown as Job<TaskJobData>)).rejects.toBeInstanceOf(UnrecoverableError);
    expect(writer.write).toHaveBeenCalledWith(
      TASK_ID,
      expect.objectContaining({ status: 'failed', error: expect.objectContaining({ code: 'UNKNOWN_TASK_TYPE' }) }),
      { subject: { tenantId: 'tenant-a', type: 'spec.run', flowRoot: false, callback: false } },
    );
  });

  it('ignores a progress value that is not a finite number', async () => {
    const { writer, run } = setup(async (_payload, context) => {
      context.progress(Number.NaN);
      context.progress(Number.POSITIVE_INFINITY);
      return 'ok';
    });
    await run();
    expect(writer.write.mock.calls.filter(([, patch]) => 'progress' in patch)).toHaveLength(0);
  });
});
