import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisFailureOf, type RedisFailure } from '@conveyor/queue';
import { cancellationChannel, CANCEL_REASON } from '../task-cancellation';
import type { TaskEntity } from '../ledger/task.entity';
import type { TaskJob } from '../task-job';

/** A ledger row and the BullMQ job that runs it. */
export type PreparedTask = { row: TaskEntity; job: TaskJob };

/** What became of one job's add: done, refused before Redis ran it, or not known (yet). */
export type AddOutcome = 'added' | RedisFailure;

/** Longest a caller waits for Redis to confirm adds; unconfirmed ones are `unknown`. */
export const ADD_TIMEOUT_MS = 2000;

/**
 * Hands jobs of rows already in the ledger to BullMQ (job id = task id), one `add` or
 * `addBulk` per queue, and says per job what Redis can have done with it. What to make of a
 * failed add is the caller's decision (the API refuses or accepts, a follow-up relay leaves
 * the row to the reconciler); this only reports.
 */
@Injectable()
export class JobRelay {
  private readonly logger = new Logger(JobRelay.name);
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The outcome of each item's add, in order; waits at most ADD_TIMEOUT_MS. */
  async add(prepared: PreparedTask[]): Promise<AddOutcome[]> {
    const byQueue = new Map<string, number[]>();
    prepared.forEach((item, index) => byQueue.set(item.row.queue, [...(byQueue.get(item.row.queue) ?? []), index]));
    const outcomes: AddOutcome[] = prepared.map(() => 'unknown');
    const adds = [...byQueue].map(async ([queueName, indexes]) => {
      const queue = this.queue(queueName);
      const items = indexes.map((index) => prepared[index]);
      try {
        await (items.length === 1 ? queue.add(items[0].job.name, items[0].job.data, items[0].job.opts) : queue.addBulk(items.map((item) => item.job)));
        for (const index of indexes) outcomes[index] = 'added';
      } catch (error) {
        const failure = redisFailureOf(error);
        for (const index of indexes) outcomes[index] = failure;
        this.logger.warn({ err: error, queue: queueName, jobs: items.length, outcome: failure }, 'adding jobs to the queue failed');
      }
    });
    let timer: NodeJS.Timeout | undefined;
    // Past the deadline, unsettled adds stay `unknown`; their promises settle on their own.
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ADD_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(adds), deadline]);
    } finally {
      clearTimeout(timer);
    }
    return [...outcomes];
  }

  /** Queues are registered through BullModule by each domain's contracts module. */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Tells every worker to stop the task if it runs it: the task id goes out on the
   * cancellation channel, and the worker running it fires the handler's AbortSignal.
   */
  async signalCancellation(queueName: string, id: string): Promise<void> {
    const client = await this.queue(queueName).getBackend().client;
    const publish = (client as unknown as { publish(channel: string, message: string): Promise<number> }).publish.bind(client);
    await publish(cancellationChannel(this.config.queuePrefix), id);
    this.logger.log({ taskId: id }, `cancellation of a running task requested (${CANCEL_REASON})`);
  }
}
