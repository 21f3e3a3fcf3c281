import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { Worker, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from '@conveyor/queue';
import { TASK_HANDLER_METADATA, type TaskHandler } from '../contracts/task-handler';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { failpoint } from '../failpoints';
import { retryBackoffStrategy } from '../retry-policy';
import { TenantSlots } from '../fairness/tenant-slots';
import { BULLMQ_GAVE_UP, type TaskJobData } from '../task-job';
import { ConcurrencyAutoscaler } from './autoscale/concurrency-autoscaler';
import { CompletedJobRetention } from './completed-job-retention';
import { QueueSettingsApplier } from './queue-settings.applier';
import { TaskRunner, type BoundHandler, type JobLease } from './task-runner';
import { WorkerRecycler } from './worker-recycler';

/** Thrown at boot when the handlers do not match the contracts of the consumed queues. */
export class HandlerBindingError extends Error {
  constructor(problems: string[]) {
    super(`Task handlers do not match the task types of this worker's queues:\n  - ${problems.join('\n  - ')}`);
    this.name = 'HandlerBindingError';
  }
}

/**
 * Starts one BullMQ Worker per consumed queue (WORKER_QUEUES, default: every registered
 * queue) and routes each job to the one handler of its task type. Boot fails if a type routed
 * to a consumed queue has no handler or more than one. On shutdown it stops fetching, lets
 * running tasks finish within SHUTDOWN_GRACE_MS, then force-closes.
 */
@Injectable()
export class TaskWorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskWorkerHost.name);
  private readonly workers: Worker[] = [];
  private handlers = new Map<string, BoundHandler>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    private readonly discovery: DiscoveryService,
    private readonly runner: TaskRunner,
    private readonly retention: CompletedJobRetention,
    private readonly settings: QueueSettingsApplier,
    private readonly slots: TenantSlots,
    private readonly autoscaler: ConcurrencyAutoscaler,
    private readonly recycler: WorkerRecycler,
  ) {}

  /** The queues this process consumes, after validation. */
  get queues(): string[] {
    return this.workers.map((worker) => worker.name);
  }

  get runningWorkers(): readonly Worker[] {
    return this.workers;
  }

  async onApplicationBootstrap(): Promise<void> {
    const queues = this.resolveQueues();
    this.handlers = this.bindHandlers(queues);
    for (const queue of queues) {
      // WORKER_CONCURRENCY (a range's min), unless `PATCH /v1/queues/:name` stored another (see QueueSettingsApplier).
      const concurrency = await this.settings.startingConcurrency(queue);
      const worker: Worker<TaskJobData> = new Worker<TaskJobData>(queue, (job, token, signal) => this.process(worker, job, { token, signal }), {
        connection: redisConnectionOptions(this.config.redis, 'worker'),
        prefix: this.config.queuePrefix,
        concurrency,
        // A killed worker's jobs are handed to another worker after the lock expires (stall check).
        lockDuration: this.config.worker.lockDurationMs,
        stalledInterval: this.config.worker.stalledIntervalMs,
        autorun: false,
        name: this.config.worker.id,
        settings: { backoffStrategy: retryBackoffStrategy },
      });
      worker.on('error', (error) => this.logger.error({ err: error, queue }, 'worker error'));
      // BullMQ fails a job that stalled (its worker died) more often than allowed without
      // calling any processor; the ledger must still learn that it ended.
      // A completion may be acknowledged before the ledger has it; the job is kept until it does.
      worker.on('completed', (job) => {
        if (!this.retention.acknowledged(job)) failpoint('after-ack-before-ledger');
      });
      worker.on('failed', (job, error) => {
        if (job && BULLMQ_GAVE_UP.test(error?.message ?? '')) void this.runner.recordGaveUp(job, error.message);
      });
      this.workers.push(worker);
      this.logger.log({ queue, concurrency }, 'consuming queue');
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
    for (const worker of this.workers) void worker.run();
    // The autoscaler first: the applier's first refresh tells it of any stored override.
    this.autoscaler.attach(this.workers);
    await this.settings.attach(this.workers);
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (this.workers.length === 0) return;
    const grace = this.config.worker.shutdownGraceMs;
    this.logger.log({ signal, graceMs: grace }, 'stopping: no new tasks, waiting for running ones');
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    // Settings changes no longer apply to workers that are closing; their reports go.
    await this.settings.detach();
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([closing.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), grace)))]);
    clearTimeout(timer);
    if (expired) {
      // close() is already under way and waits for running jobs; cancelling them makes each
      // attempt release its task to the queue, so another worker takes it at once.
      this.logger.warn({ graceMs: grace }, 'grace period over: interrupting running tasks');
      for (const worker of this.workers) worker.cancelAllJobs('shutdown');
      await closing;
    }
  }

  /** Aborts the task if one of this process's workers runs it; returns whether one did. */
  cancel(taskId: string, reason: string): boolean {
    return this.workers.map((worker) => worker.cancelJob(taskId, reason)).some(Boolean);
  }

  private async process(worker: Worker<TaskJobData>, job: Job<TaskJobData>, lease: JobLease): Promise<unknown> {
    const bound = this.handlers.get(job.name);
    if (!bound) return this.runner.rejectUnknownType(job);
    // Over its tenant's cap the job is handed back before anything of it runs (README "Fairness").
    const slot = await this.slots.admit(worker, job, lease.token);
    this.autoscaler.taskStarted(worker.name);
    try {
      return await this.runner.run(job, bound, lease);
    } finally {
      slot.release();
      this.autoscaler.taskFinished(worker.name);
      this.recycler.taskFinished();
    }
  }

  private resolveQueues(): string[] {
    const known = this.registry.queues();
    const own = this.registry.ownQueueNames();
    const wanted = this.config.worker.queues ?? known;
    const unknown = wanted.filter((queue) => !known.includes(queue) && !own.includes(queue));
    if (unknown.length > 0) {
      throw new HandlerBindingError([`WORKER_QUEUES names queues no task type uses: ${unknown.join(', ')} (known: ${[...known, ...own].join(', ')})`]);
    }
    // A lib's own queue is consumed by that lib's processor, not here.
    return wanted.filter((queue) => known.includes(queue));
  }

  private bindHandlers(queues: string[]): Map<string, BoundHandler> {
    const found = new Map<string, Array<{ definition: TaskTypeDefinition; handler: TaskHandler; name: string }>>();
    for (const wrapper of this.discovery.getProviders()) {
      const { metatype } = wrapper;
      const instance = wrapper.instance as TaskHandler | undefined;
      if (!metatype || !instance) continue;
      const definition = Reflect.getMetadata(TASK_HANDLER_METADATA, metatype) as TaskTypeDefinition | undefined;
      if (!definition) continue;
      const list = found.get(definition.type) ?? [];
      list.push({ definition, handler: instance, name: metatype.name });
      found.set(definition.type, list);
    }

    const problems: string[] = [];
    const bound = new Map<string, BoundHandler>();
    for (const definition of this.registry.all().filter((t) => queues.includes(t.queue))) {
      const candidates = found.get(definition.type) ?? [];
      if (candidates.length === 0) problems.push(`"${definition.type}" (queue ${definition.queue}) has no handler`);
      else if (candidates.length > 1) {
        problems.push(`"${definition.type}" has ${candidates.length} handlers: ${candidates.map((c) => c.name).join(', ')}`);
      } else bound.set(definition.type, { ...candidates[0], definition }); // the registry's: its queue is the stored name
    }
    for (const [type, candidates] of found) {
      if (!this.registry.get(type)) problems.push(`${candidates[0].name} handles "${type}", which no contracts module registers`);
    }
    if (problems.length > 0) throw new HandlerBindingError(problems);
    return bound;
  }
}
