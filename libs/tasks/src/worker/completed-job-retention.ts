import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, KeepJobs } from 'bullmq';
import { RegisteredQueues } from '../recovery/registered-queues';
import { KEEP_COMPLETED } from '../task-job';
import { TaskStateWriter } from './task-state-writer';

/**
 * What a worker's acknowledgement asks BullMQ to keep: every completed job, for up to a day.
 * BullMQ's own count limit is off here, since it could drop a job whose end the ledger has not
 * committed yet; this class applies the limit instead, to jobs the ledger has.
 */
export const KEEP_UNTIL_LEDGERED: KeepJobs = { age: 24 * 3600 };

/** Ledgered jobs sent to Redis in one script call. */
const BATCH = 500;
/** How long the first job of a batch waits for company. */
const BATCH_DELAY_MS = 50;
/** An acknowledgement or commit whose other half never came (a lost lock, a failed write) is forgotten after this. */
const UNPAIRED_TTL_MS = 10 * 60_000;
/** Ids held for Redis while it is away; past this many the oldest are left to BullMQ's age limit. */
const MAX_HELD = 100_000;

/**
 * Marks completed jobs the ledger has (KEYS[2], scored by their finish time, only while the
 * completed set holds that very run), then removes the oldest of them past the kept count or
 * age, as BullMQ's own retention would: the job from the completed set and its keys.
 * KEYS: completed set, ledgered set. ARGV: job key prefix, count kept, oldest finish time kept,
 * then (job id, finish time) pairs.
 */
const RETAIN_SCRIPT = `
local completed, ledgered = KEYS[1], KEYS[2]
for i = 4, #ARGV, 2 do
  local score = redis.call('ZSCORE', completed, ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', ledgered, ARGV[i + 1], ARGV[i])
  end
end
local function drop(entries)
  for j = 1, #entries, 2 do
    local id = entries[j]
    local score = redis.call('ZSCORE', completed, id)
    if score and tonumber(score) == tonumber(entries[j + 1]) then
      redis.call('ZREM', completed, id)
      local key = ARGV[1] .. id
      redis.call('DEL', key, key .. ':logs', key .. ':dependencies', key .. ':processed', key .. ':failed', key .. ':unsuccessful')
    end
    redis.call('ZREM', ledgered, id)
  end
end
drop(redis.call('ZRANGEBYSCORE', ledgered, '-inf', '(' .. ARGV[3], 'WITHSCORES', 'LIMIT', 0, 1000))
local excess = redis.call('ZCARD', ledgered) - tonumber(ARGV[2])
if excess > 0 then drop(redis.call('ZRANGE', ledgered, 0, math.min(excess, 1000) - 1, 'WITHSCORES')) end
return 0
`;
const COMMAND = 'conveyorRetainLedgered';

interface Halves {
  /** Set by the acknowledgement: the completed set's score of this run. */
  finishedOn?: number;
  ledgered: boolean;
  since: number;
}

/**
 * The one owner of "Redis keeps a finished job until the ledger has it". A worker may
 * acknowledge a completion before its ledger write commits (the write-behind of TaskRunner):
 * if the process dies in between, the job in BullMQ's completed set, with its result, is the
 * only record of the end, and the reconciler writes the ledger from it. So completions are
 * acknowledged with KEEP_UNTIL_LEDGERED, and once both halves are known (BullMQ acknowledged
 * the run, the ledger committed it) the job joins the ledgered set, which is trimmed to the
 * retention of KEEP_COMPLETED (count and age). A job whose process died before this step
 * stays until BullMQ's age limit, a day later; one whose end the ledger never got is kept for
 * the reconciler.
 */
@Injectable()
export class CompletedJobRetention implements OnApplicationShutdown {
  private readonly logger = new Logger(CompletedJobRetention.name);
  private readonly halves = new Map<string, Halves>();
  /** Per queue: (job id, finish time) ready to be marked ledgered. */
  private readonly ready = new Map<string, Array<[string, number]>>();
  private readonly defined = new WeakSet<object>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;

  constructor(
    private readonly queues: RegisteredQueues,
    private readonly writer: TaskStateWriter,
  ) {}

  /** Before the processor returns a completion: BullMQ is to keep the job (see KEEP_UNTIL_LEDGERED). */
  keep(job: Job): void {
    job.opts.removeOnComplete = KEEP_UNTIL_LEDGERED;
  }

  /** BullMQ acknowledged the completion (the worker's `completed` event). */
  acknowledged(job: Job): boolean {
    if (job.finishedOn === undefined) return true;
    const key = `${job.queueName}\0${job.id}`;
    const halves = this.halves.get(key);
    if (halves?.ledgered) {
      this.halves.delete(key);
      this.push(job.queueName, job.id as string, job.finishedOn);
      return true;
    }
    this.halves.set(key, { finishedOn: job.finishedOn, ledgered: false, since: Date.now() });
    return false;
  }

  /** The ledger committed the completion. */
  ledgered(job: Pick<Job, 'queueName' | 'id'>): void {
    const key = `${job.queueName}\0${job.id}`;
    const halves = this.halves.get(key);
    if (halves?.finishedOn !== undefined) {
      this.halves.delete(key);
      this.push(job.queueName, job.id as string, halves.finishedOn);
      return;
    }
    this.halves.set(key, { ledgered: true, since: Date.now() });
  }

  /** Marks a run finished in Redis whose end the ledger has (the reconciler, after writing it). */
  retain(queue: string, jobId: string, finishedOn: number): void {
    this.push(queue, jobId, finishedOn);
  }

  /** Best effort: what the ledger commits by now is released; anything left goes by BullMQ's age limit. */
  async onApplicationShutdown(): Promise<void> {
    await this.writer.drain();
    // The runners hear of the last commits a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  private push(queue: string, jobId: string, finishedOn: number): void {
    const list = this.ready.get(queue) ?? [];
    list.push([jobId, finishedOn]);
    if (list.length > MAX_HELD) list.splice(0, list.length - MAX_HELD);
    this.ready.set(queue, list);
    this.timer ??= setTimeout(() => void this.flush(), list.length >= BATCH ? 0 : BATCH_DELAY_MS);
  }

  /** Sends what is ready, one script call per queue and batch; on failure keeps it and backs off. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined;
      this.timer = undefined;
      const pending = [...this.ready.values()].some((list) => list.length > 0);
      if (pending) this.timer = setTimeout(() => void this.flush(), this.failures > 0 ? Math.min(100 * 2 ** this.failures, 10_000) : 0);
      this.forgetUnpaired();
    });
    return this.flushing;
  }

  private async send(): Promise<void> {
    for (const [name, list] of this.ready) {
      const queue = this.queues.get(name);
      if (!queue) {
        this.ready.delete(name);
        continue;
      }
      while (list.length > 0) {
        const batch = list.slice(0, BATCH);
        try {
          const client = await queue.getBackend().client;
          if (!this.defined.has(client)) {
            client.defineCommand(COMMAND, { numberOfKeys: 2, lua: RETAIN_SCRIPT });
            this.defined.add(client);
          }
          const oldest = Date.now() - KEEP_COMPLETED.age * 1000;
          await client.runCommand(COMMAND, [
            queue.toKey('completed'),
            queue.toKey('conveyor:ledgered'),
            queue.toKey(''),
            KEEP_COMPLETED.count,
            oldest,
            ...batch.flat(),
          ]);
          list.splice(0, batch.length);
          this.failures = 0;
        } catch (error) {
          this.failures += 1;
          this.logger.warn({ err: error, queue: name, jobs: list.length }, 'could not release ledgered jobs to retention; retrying');
          return;
        }
      }
    }
  }

  private forgetUnpaired(): void {
    const before = Date.now() - UNPAIRED_TTL_MS;
    for (const [key, halves] of this.halves) if (halves.since < before) this.halves.delete(key);
  }
}
