import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import type { AppConfig } from '@conveyor/config';
import { HandlesTask, type TaskHandler } from '../contracts/task-handler';
import { defineTaskType } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { CompletedJobRetention } from './completed-job-retention';
import type { QueueSettingsApplier } from './queue-settings.applier';
import type { ConcurrencyAutoscaler } from './autoscale/concurrency-autoscaler';
import type { WorkerRecycler } from './worker-recycler';
import type { BoundHandler, TaskRunner } from './task-runner';
import type { TenantSlots } from '../fairness/tenant-slots';
import { HandlerBindingError, TaskWorkerHost } from './task-worker.host';

// No Redis in unit tests: a stand-in Worker records what the host asks for.
const createdWorkers: FakeWorker[] = [];
class FakeWorker {
  readonly on = jest.fn();
  readonly waitUntilReady = jest.fn().mockResolvedValue(undefined);
  readonly run = jest.fn().mockResolvedValue(undefined);
  readonly close = jest.fn().mockResolvedValue(undefined);
  constructor(
    readonly name: string,
    readonly processor: (job: unknown) => Promise<unknown>,
    readonly opts: Record<string, unknown>,
  ) {
    createdWorkers.push(this);
  }
}
jest.mock('bullmq', () => ({
  ...jest.requireActual<object>('bullmq'),
  Worker: jest.fn((...args: ConstructorParameters<typeof FakeWorker>) => new FakeWorker(...args)),
}));

class Payload {}
const ALPHA = defineTaskType({ type: 'spec.alpha', queue: 'q1', description: 'alpha', payload: Payload });
const BETA = defineTaskType({ type: 'spec.beta', queue: 'q1', description: 'beta', payload: Payload });
const GAMMA = defineTaskType({ type: 'spec.gamma', queue: 'q2', description: 'gamma', payload: Payload });
const UNREGISTERED = defineTaskType({ type: 'spec.orphan', queue: 'q1', description: 'orphan', payload: Payload });

class BaseHandler implements TaskHandler {
  handle(): Promise<unknown> {
    return Promise.resolve(null);
  }
}
@HandlesTask(ALPHA)
class AlphaHandler extends BaseHandler {}
@HandlesTask(ALPHA)
class SecondAlphaHandler extends BaseHandler {}
@HandlesTask(BETA)
class BetaHandler extends BaseHandler {}
@HandlesTask(GAMMA)
class GammaHandler extends BaseHandler {}
@HandlesTask(UNREGISTERED)
class OrphanHandler extends BaseHandler {}
/** A provider that is not a handler: must be ignored. */
class SomeService {}

type Wrapper = { metatype: unknown; instance: unknown };
const provider = (metatype: new () => object): Wrapper => ({ metatype, instance: new metatype() });

function makeHost(options: { queues?: string[] | null; providers: Wrapper[]; concurrency?: Record<string, number>; queueNames?: Record<string, string> }) {
  const config = {
    queuePrefix: 'spec',
    redis: { host: '127.0.0.1', port: 6379, db: 0, tls: false },
    worker: {
      queues: options.queues ?? null,
      concurrency: options.concurrency ?? {},
      defaultConcurrency: 1,
      id: 'spec-worker',
      healthPort: 0,
      shutdownGraceMs: 1000,
    },
  } as unknown as AppConfig;
  const registry = new TaskTypeRegistry(options.queueNames);
  registry.register([ALPHA, BETA, GAMMA]);
  const discovery = { getProviders: jest.fn(() => options.providers) } as unknown as DiscoveryService;
  const runner = { run: jest.fn().mockResolvedValue('ran'), rejectUnknownType: jest.fn().mockRejectedValue(new Error('unknown type')) };
  const host = new TaskWorkerHost(
    config,
    registry,
    discovery,
    runner as unknown as TaskRunner,
    { acknowledged: jest.fn(() => true) } as unknown as CompletedJobRetention,
    // Nothing stored: each queue starts with its configured concurrency.
    {
      startingConcurrency: jest.fn((queue: string) => Promise.resolve(config.worker.concurrency[queue] ?? config.worker.defaultConcurrency)),
      attach: jest.fn().mockResolvedValue(undefined),
      detach: jest.fn().mockResolvedValue(undefined),
    } as unknown as QueueSettingsApplier,
    { admit: jest.fn().mockResolvedValue({ release: jest.fn() }) } as unknown as TenantSlots,
    { attach: jest.fn(), taskStarted: jest.fn(), taskFinished: jest.fn() } as unknown as ConcurrencyAutoscaler,
    { taskFinished: jest.fn() } as unknown as WorkerRecycler,
  );
  const bindHandlers = (queues: string[]): Map<string, BoundHandler> =>
    (host as unknown as { bindHandlers(q: string[]): Map<string, BoundHandler> }).bindHandlers(queues);
  return { host, runner, discovery, bindHandlers, registry };
}

const ALL_HANDLERS = [provider(AlphaHandler), provider(BetaHandler), provider(GammaHandler), provider(SomeService)];

async function bootError(host: TaskWorkerHost): Promise<HandlerBindingError> {
  const error = await host.onApplicationBootstrap().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HandlerBindingError);
  return error as HandlerBindingError;
}

beforeAll(() => {
  jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
});

afterAll(() => {
  jest.restoreAllMocks();
});

describe('TaskWorkerHost handler binding', () => {
  beforeEach(() => {
    createdWorkers.length = 0;
  });

  it('fails when a type on a consumed queue has no handler, naming the type and its queue', async () => {
    const { host } = makeHost({ providers: [provider(AlphaHandler), provider(GammaHandler)] });
    const error = await bootError(host);
    expect(error.name).toBe('HandlerBindingError');
    expect(error.message).toContain('"spec.beta" (queue q1) has no handler');
    expect(error.message).not.toContain('spec.alpha');
    expect(createdWorkers).toHaveLength(0);
  });

  it('fails when a type has two handlers, naming both classes', async () => {
    const { host } = makeHost({ providers: [...ALL_HANDLERS, provider(SecondAlphaHandler)] });
    const error = await bootError(host);
    expect(error.message).toContain('"spec.alpha" has 2 handlers');
    expect(error.message).toContain('AlphaHandler');
    expect(error.message).toContain('SecondAlphaHandler');
    expect(createdWorkers).toHaveLength(0);
  });

  it('fails when a handler handles a type no contracts module registered', async () => {
    const { host } = makeHost({ providers: [...ALL_HANDLERS, provider(OrphanHandler)] });
    const error = await bootError(host);
    expect(error.message).toContain('OrphanHandler handles "spec.orphan"');
    expect(createdWorkers).toHaveLength(0);
  });

  it('lists every binding problem at once', async () => {
    const { host } = makeHost({ providers: [provider(AlphaHandler), provider(SecondAlphaHandler), provider(OrphanHandler)] });
    const error = await bootError(host);
    expect(error.message).toContain('"spec.alpha" has 2 handlers');
    expect(error.message).toContain('"spec.beta" (queue q1) has no handler');
    expect(error.message).toContain('"spec.gamma" (queue q2) has no handler');
    expect(error.message).toContain('"spec.orphan"');
  });

  it('fails when WORKER_QUEUES names a queue no task type uses', async () => {
    const { host, discovery } = makeHost({ queues: ['q1', 'nope'], providers: ALL_HANDLERS });
    const error = await bootError(host);
    expect(error.message).toContain('WORKER_QUEUES names queues no task type uses: nope');
    expect(error.message).toContain('known: q1, q2');
    // The queue list is checked before handlers are looked up.
    expect(discovery.getProviders).not.toHaveBeenCalled();
    expect(createdWorkers).toHaveLength(0);
  });

  it('binds exactly the types of the consumed queues', () => {
    const { bindHandlers } = makeHost({ providers: ALL_HANDLERS });
    const bound = bindHandlers(['q1']);
    expect([...bound.keys()].sort()).toEqual(['spec.alpha', 'spec.beta']);
    expect(bound.get('spec.alpha')!.definition).toBe(ALPHA);
    expect(bound.get('spec.alpha')!.handler).toBeInstanceOf(AlphaHandler);
    expect(bound.get('spec.beta')!.handler).toBeInstanceOf(BetaHandler);
  });

  it('does not require handlers for types on queues this worker does not consume', () => {
    const { bindHandlers } = makeHost({ providers: [provider(AlphaHandler), provider(BetaHandler)] });
    expect([...bindHandlers(['q1']).keys()].sort()).toEqual(['spec.alpha', 'spec.beta']);
    // The same handlers do not satisfy a worker that consumes q2.
    expect(() => bindHandlers(['q2'])).toThrow('"spec.gamma" (queue q2) has no handler');
  });

  it('skips wrappers without an instance or metatype (unresolved or value providers)', () => {
    const { bindHandlers } = makeHost({
      providers: [{ metatype: AlphaHandler, instance: undefined }, { metatype: undefined, instance: {} }, provider(BetaHandler), provider(AlphaHandler)],
    });
    expect([...bindHandlers(['q1']).keys()].sort()).toEqual(['spec.alpha', 'spec.beta']);
  });
});

describe('TaskWorkerHost boot with a stand-in BullMQ Worker', () => {
  beforeEach(() => {
    createdWorkers.length = 0;
  });

  it('starts one worker per registered queue with its concurrency, and routes jobs to the runner', async () => {
    const { host, runner } = makeHost({ providers: ALL_HANDLERS, concurrency: { q2: 4 } });
    await host.onApplicationBootstrap();
    expect(createdWorkers.map((w) => w.name)).toEqual(['q1', 'q2']);
    expect(createdWorkers.map((w) => w.opts.concurrency)).toEqual([1, 4]);
    expect(createdWorkers[0].opts).toMatchObject({ prefix: 'spec', autorun: false, name: 'spec-worker' });
    for (const worker of createdWorkers) {
      expect(worker.waitUntilReady).toHaveBeenCalled();
      expect(worker.run).toHaveBeenCalled();
    }
    expect(host.queues).toEqual(['q1', 'q2']);

    const job = { name: 'spec.gamma' };
    await expect(createdWorkers[1].processor(job)).resolves.toBe('ran');
    expect(runner.run).toHaveBeenCalledTimes(1);
    const [ranJob, bound] = runner.run.mock.calls[0] as [unknown, BoundHandler];
    expect(ranJob).toBe(job);
    expect(bound.definition).toBe(GAMMA);
    expect(bound.handler).toBeInstanceOf(GammaHandler);
    const stranger = { name: 'spec.unknown' };
    await expect(createdWorkers[1].processor(stranger)).rejects.toThrow('unknown type');
    expect(runner.rejectUnknownType).toHaveBeenCalledWith(stranger);
    expect(runner.run).toHaveBeenCalledTimes(1);
  });

  it('consumes a renamed queue under its stored name, handing the runner the renamed definition', async () => {
    const { host, runner } = makeHost({ queues: ['legacy'], providers: [provider(GammaHandler)], queueNames: { q2: 'legacy' } });
    await host.onApplicationBootstrap();
    expect(createdWorkers.map((w) => w.name)).toEqual(['legacy']);
    await createdWorkers[0].processor({ name: 'spec.gamma' });
    const [, bound] = runner.run.mock.calls[0] as [unknown, BoundHandler];
    expect(bound.definition).toMatchObject({ type: 'spec.gamma', queue: 'legacy' });
    expect(bound.handler).toBeInstanceOf(GammaHandler);
  });

  it("consumes only the queues WORKER_QUEUES names, without the other queues' handlers", async () => {
    const { host } = makeHost({ queues: ['q2'], providers: [provider(GammaHandler)] });
    await host.onApplicationBootstrap();
    expect(createdWorkers.map((w) => w.name)).toEqual(['q2']);
  });

  it("accepts a lib's own queue in WORKER_QUEUES and leaves it to that lib's processor", async () => {
    const { host, registry } = makeHost({ queues: ['q2', 'hooks'], providers: [provider(GammaHandler)] });
    registry.registerOwnQueue('hooks');
    await host.onApplicationBootstrap();
    expect(createdWorkers.map((w) => w.name)).toEqual(['q2']);
  });

  it('closes its workers on shutdown', async () => {
    const { host } = makeHost({ providers: ALL_HANDLERS });
    await host.onApplicationBootstrap();
    await host.beforeApplicationShutdown('SIGTERM');
    for (const worker of createdWorkers) expect(worker.close).toHaveBeenCalledWith();
  });
});
