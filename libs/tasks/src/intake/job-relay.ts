import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { captureTrace, inSharedSpan, type CapturedTrace } from '@conveyor/observability';
import { pipelineFailureOf, redisFailureOf, type RedisFailure } from '@conveyor/queue';
import { failpoint } from '../failpoints';
import { FairOrdering } from '../fairness/fair-ordering';
import { cancellationChannel, CANCEL_REASON } from '../task-cancellation';
import type { TaskEntity } from '../ledger/task.entity';
import type { TaskJob } from '../task-job';
import { RegisteredQueues } from '../recovery/registered-queues';

/** A ledger row and the BullMQ job that runs it. */
export type PreparedTask = { row: TaskEntity; job: TaskJob };

/** What became of one job's add: done, refused before Redis ran it, or not known (yet). */
export type AddOutcome = 'added' | RedisFailure;

/** Longest a caller waits for Redis to confirm adds; unconfirmed ones are `unknown`. */
export const ADD_TIMEOUT_MS = 2000;

/** Shared adds in flight per queue (see addShared); later callers' jobs wait and go out together. */
const MAX_SHARED_ADDS = 2;
/** Jobs in one shared add at most; a caller with more goes alone. */
const MAX_JOBS_PER_ADD = 1000;

interface QueuedAdd {
  queue: Queue;
  jobs: TaskJob[];
  settle(outcome: AddOutcome): void;
  /** The caller's trace: the shared add is traced in it (see inSharedSpan). */
  trace: CapturedTrace;
}

/**
 * Hands jobs of rows already in the ledger to BullMQ (job id = task id) and says per job what
 * Redis can have done with it. What to make of a failed add is the caller's decision (the API
 * refuses or accepts, a follow-up relay leaves the row to the reconciler); this only reports.
 *
 * Concurrent callers share their adds: while adds to a queue are in flight, the jobs of every
 * caller that arrives meanwhile wait and then go out together in one `addBulk` (one pipeline),
 * so under load many requests cost one round trip to Redis, and when idle a caller waits for
 * nothing. Every caller keeps its own outcome (see runSharedAdd).
 */
@Injectable()
export class JobRelay {
  private readonly logger = new Logger(JobRelay.name);
  private readonly waiting = new Map<string, QueuedAdd[]>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly queues: RegisteredQueues,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly fairness: FairOrdering,
  ) {}

  /** The outcome of each item's add, in order; waits at most ADD_TIMEOUT_MS. */
  async add(prepared: PreparedTask[]): Promise<AddOutcome[]> {
    const byQueue = new Map<string, number[]>();
    prepared.forEach((item, index) => byQueue.set(item.row.queue, [...(byQueue.get(item.row.queue) ?? []), index]));
    const outcomes: AddOutcome[] = prepared.map(() => 'unknown');
    const adds = [...byQueue].map(async ([queueName, indexes]) => {
      const outcome = await this.addShared(
        queueName,
        indexes.map((index) => prepared[index].job),
      );
      for (const index of indexes) outcomes[index] = outcome;
    });
    let timer: NodeJS.Timeout | undefined;
    // Past the deadline, unsettled adds stay `unknown`: sent or still waiting for their turn,
    // they may land later (their promises settle on their own), as an unanswered add may.
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

  private addShared(queueName: string, jobs: TaskJob[]): Promise<AddOutcome> {
    // Resolved first: a queue nobody registered fails its caller, not the group.
    const queue = this.queue(queueName);
    return new Promise<AddOutcome>((settle) => {
      const waiting = this.waiting.get(queueName) ?? [];
      this.waiting.set(queueName, waiting);
      waiting.push({ queue, jobs, settle, trace: captureTrace() });
      this.startSharedAdds(queueName);
    });
  }

  private startSharedAdds(queueName: string): void {
    const waiting = this.waiting.get(queueName)!;
    while ((this.inFlight.get(queueName) ?? 0) < MAX_SHARED_ADDS && waiting.length > 0) {
      const group = [waiting.shift()!];
      let count = group[0].jobs.length;
      while (waiting.length > 0 && count + waiting[0].jobs.length <= MAX_JOBS_PER_ADD) {
        const next = waiting.shift()!;
        group.push(next);
        count += next.jobs.length;
      }
      this.inFlight.set(queueName, (this.inFlight.get(queueName) ?? 0) + 1);
      void this.runSharedAdd(queueName, group).finally(() => {
        this.inFlight.set(queueName, this.inFlight.get(queueName)! - 1);
        this.startSharedAdds(queueName);
      });
    }
  }

  /**
   * One add for the whole group; every caller gets its outcome. Not sent (no connection):
   * refused for all, nothing of it exists. Answered with an error: a pipeline is not atomic
   * (Redis may have run the jobs before the one that failed, and an add tried again could be
   * refused while the first one's job exists), so `unknown` for all: the rows stay and the
   * reconciler queues whatever Redis did not get. A job alone keeps the single add's answer.
   */
  private async runSharedAdd(queueName: string, group: QueuedAdd[]): Promise<void> {
    if (group.length > 1) failpoint('before-shared-add');
    const { queue } = group[0];
    let jobs = group.flatMap((queued) => queued.jobs);
    let outcome: AddOutcome = 'added';
    try {
      // Fair priorities are handed out in the order the jobs are added in. No job exists
      // until the add below, so a failure here refuses them all for certain.
      jobs = await this.fairness.order(queue, jobs);
    } catch (error) {
      outcome = 'refused';
      this.logger.warn({ err: error, queue: queueName, jobs: jobs.length, callers: group.length }, 'ordering jobs fairly failed; nothing was added');
    }
    if (outcome === 'added') {
      try {
        await inSharedSpan(
          jobs.length === 1 ? 'redis add' : 'redis addBulk',
          group.map((queued) => queued.trace),
          () => ({ 'db.system.name': 'redis', 'messaging.destination.name': queueName, 'messaging.batch.message_count': jobs.length }),
          async () => void (jobs.length === 1 ? await queue.add(jobs[0].name, jobs[0].data, jobs[0].opts) : await queue.addBulk(jobs)),
        );
      } catch (error) {
        outcome = jobs.length === 1 ? redisFailureOf(error) : pipelineFailureOf(error);
        this.logger.warn({ err: error, queue: queueName, jobs: jobs.length, callers: group.length, outcome }, 'adding jobs to the queue failed');
      }
    }
    for (const queued of group) queued.settle(outcome);
  }

  /**
   * The BullMQ priority a job of this tenant gets at this task priority now: a fair place among
   * the tenants (FAIRNESS=on, see FairOrdering), or the task priority itself.
   */
  async jobPriority(queueName: string, tenantId: string, priority: number): Promise<number> {
    const probe = { name: '', data: { tenantId }, opts: { priority } } as TaskJob;
    const [placed] = await this.fairness.order(this.queue(queueName), [probe]);
    return placed.opts.priority ?? priority;
  }

  /** A queue some contract of this process registers (through BullModule, see RegisteredQueues). */
  queue(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`no contract of this process registers queue "${name}"`);
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
