import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { ApiError } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';

export const STREAM_POLL_MS = 250;
/** Streams end when their task does; a client refused a slot should not hammer meanwhile. */
const RETRY_AFTER_SECONDS = 5;

/** The task's row at each poll: null once it is gone, undefined when the read failed. */
export type TaskRowListener = (task: TaskEntity | null | undefined) => void;

interface Watch {
  listeners: Set<TaskRowListener>;
  timer?: NodeJS.Timeout;
}

/**
 * The open task event streams of this process: each holds a slot, capped per API key and per
 * process (SSE_MAX_STREAMS_PER_KEY, SSE_MAX_STREAMS), and every stream of one task shares one
 * ledger read per poll. (A push-based feed would replace the polling; this keeps its cost
 * bounded until then.)
 */
@Injectable()
export class TaskEventStreams implements OnModuleDestroy {
  private readonly perKey = new Map<string, number>();
  private open = 0;
  private readonly watches = new Map<string, Watch>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: TaskLedgerService,
  ) {}

  /** Open streams now: of one key, or of the process. */
  count(key?: string): number {
    return key === undefined ? this.open : (this.perKey.get(key) ?? 0);
  }

  /**
   * Takes a stream slot for `key` or refuses with 429 TOO_MANY_STREAMS. The returned release
   * may be called any number of times (each way a stream ends calls it).
   */
  reserve(key: string): () => void {
    const { streamsPerKey, streamsPerProcess } = this.config.limits;
    if (this.count(key) >= streamsPerKey) {
      throw ApiError.tooManyRequests(
        'TOO_MANY_STREAMS',
        `This API key has ${streamsPerKey} open event streams, the most it may hold; close one first`,
        RETRY_AFTER_SECONDS,
      );
    }
    if (this.open >= streamsPerProcess) {
      throw ApiError.tooManyRequests('TOO_MANY_STREAMS', 'This API process serves as many event streams as it can; retry later', RETRY_AFTER_SECONDS);
    }
    this.perKey.set(key, this.count(key) + 1);
    this.open += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open -= 1;
      const left = this.count(key) - 1;
      if (left > 0) this.perKey.set(key, left);
      else this.perKey.delete(key);
    };
  }

  /** Calls `listener` with the task's row every STREAM_POLL_MS until the returned stop is called. */
  watch(tenantId: string, id: string, listener: TaskRowListener): () => void {
    const key = `${tenantId}/${id}`;
    let watch = this.watches.get(key);
    if (!watch) {
      watch = { listeners: new Set() };
      this.watches.set(key, watch);
      this.poll(key, watch, tenantId, id);
    }
    const joined = watch;
    joined.listeners.add(listener);
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.watches.get(key) === joined) {
        clearTimeout(joined.timer);
        this.watches.delete(key);
      }
    };
  }

  onModuleDestroy(): void {
    for (const watch of this.watches.values()) clearTimeout(watch.timer);
    this.watches.clear();
  }

  private poll(key: string, watch: Watch, tenantId: string, id: string): void {
    // Fire and forget: a failed read is caught inside and counts as "no row".
    watch.timer = setTimeout(() => void this.pollOnce(key, watch, tenantId, id), STREAM_POLL_MS);
  }

  private async pollOnce(key: string, watch: Watch, tenantId: string, id: string): Promise<void> {
    const row = await this.ledger.findOne(tenantId, id).catch(() => undefined);
    // Every listener may have left while the read was under way.
    if (this.watches.get(key) !== watch) return;
    for (const listener of [...watch.listeners]) listener(row);
    if (this.watches.get(key) === watch) this.poll(key, watch, tenantId, id);
  }
}
