import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { TaskMetrics } from '@conveyor/observability';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';
import { TaskChangeFeed } from '../task-change-feed';

/**
 * How often the watched rows are read even when no change was announced: pub/sub is at most
 * once, so a change announced while this process was not listening is picked up by then. One
 * query per tenant and SAFETY_READ_BATCH rows, however many streams are open.
 */
export const STREAM_SAFETY_POLL_MS = 30_000;
const SAFETY_READ_BATCH = 500;
/** Streams end when their task does; a client refused a slot should not hammer meanwhile. */
const RETRY_AFTER_SECONDS = 5;

/** The task's row after a change: null once it is gone, undefined when the read failed. */
export type TaskRowListener = (task: TaskEntity | null | undefined) => void;

interface Watch {
  tenantId: string;
  id: string;
  listeners: Set<TaskRowListener>;
  /** The version (updated_at) of the newest row handed to the listeners: an older read is dropped. */
  version: number;
  /** A read is under way; `again` asks for one more when it ends (a change came meanwhile). */
  reading: boolean;
  again: boolean;
}

/**
 * The open task event streams of this process: each holds a slot, capped per API key and per
 * process (SSE_MAX_STREAMS_PER_KEY, SSE_MAX_STREAMS), and every stream of one task shares one
 * ledger read per change. Changes are pushed (TaskChangeFeed: the writers announce the ids they
 * committed), so streams whose tasks do not change cost one batched read of all their rows per
 * STREAM_SAFETY_POLL_MS; when the feed's subscription comes back after a disconnect, every
 * watched row is read again.
 */
@Injectable()
export class TaskEventStreams implements OnModuleInit, OnModuleDestroy {
  private readonly perKey = new Map<string, number>();
  private open = 0;
  /** By task id (ids are unique across tenants; the tenant scopes the read). */
  private readonly watches = new Map<string, Watch>();
  /** How to end each open stream when the process stops. */
  private readonly closers = new Set<() => void>();
  private safetyTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: TaskLedgerService,
    private readonly feed: TaskChangeFeed,
    private readonly metrics: TaskMetrics,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.feed.subscribe(
      (ids) => {
        for (const id of ids) {
          const watch = this.watches.get(id);
          if (watch) this.read(watch);
        }
      },
      () => {
        for (const watch of this.watches.values()) this.read(watch);
      },
    );
    this.safetyTimer = setInterval(() => void this.safetyRead(), STREAM_SAFETY_POLL_MS);
    this.safetyTimer.unref();
  }

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
      throw new DomainError('rate_limited', 'TOO_MANY_STREAMS', `This API key has ${streamsPerKey} open event streams, the most it may hold; close one first`, {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
    if (this.open >= streamsPerProcess) {
      throw new DomainError('rate_limited', 'TOO_MANY_STREAMS', 'This API process serves as many event streams as it can; retry later', {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
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

  /**
   * Calls `listener` with the task's row once at once (a change may have come since the caller
   * read it), then after every announced change and every STREAM_SAFETY_POLL_MS, until the
   * returned stop is called.
   */
  watch(tenantId: string, id: string, listener: TaskRowListener): () => void {
    let watch = this.watches.get(id);
    if (!watch) {
      watch = { tenantId, id, listeners: new Set(), version: 0, reading: false, again: false };
      this.watches.set(id, watch);
    }
    const joined = watch;
    joined.listeners.add(listener);
    this.read(joined);
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && this.watches.get(id) === joined) this.watches.delete(id);
    };
  }

  /** Registers how to end a stream when the process stops; returns the unregister. */
  closeOnShutdown(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  /**
   * Ends every open stream before the HTTP server closes: an open stream would keep the server
   * (and a deploy or `pm2 reload`) waiting until its task ends. Clients reconnect, with
   * `Last-Event-ID`, to an instance that runs on.
   */
  onModuleDestroy(): void {
    for (const close of [...this.closers]) close();
    this.closers.clear();
    clearInterval(this.safetyTimer);
    this.watches.clear();
  }

  private read(watch: Watch): void {
    if (watch.reading) {
      watch.again = true;
      return;
    }
    watch.reading = true;
    void this.readOnce(watch);
  }

  private async readOnce(watch: Watch): Promise<void> {
    // A failed read is passed on as undefined: the stream keeps its client informed and alive.
    this.metrics.eventStreamRead();
    const row = await this.ledger.findOne(watch.tenantId, watch.id).catch(() => undefined);
    watch.reading = false;
    this.deliver(watch, row);
    if (this.watches.get(watch.id) === watch && watch.again) {
      watch.again = false;
      this.read(watch);
    }
  }

  /** The safety read: every watched row, a batch per query, handed on like a change. */
  private async safetyRead(): Promise<void> {
    const byTenant = new Map<string, Watch[]>();
    for (const watch of this.watches.values()) {
      const list = byTenant.get(watch.tenantId);
      if (list) list.push(watch);
      else byTenant.set(watch.tenantId, [watch]);
    }
    for (const [tenantId, watches] of byTenant) {
      for (let i = 0; i < watches.length; i += SAFETY_READ_BATCH) {
        const batch = watches.slice(i, i + SAFETY_READ_BATCH);
        this.metrics.eventStreamRead();
        const rows = await this.ledger
          .findMany(
            tenantId,
            batch.map((watch) => watch.id),
          )
          .catch(() => undefined);
        const found = new Map(rows?.map((row) => [row.id, row]));
        for (const watch of batch) this.deliver(watch, rows ? (found.get(watch.id) ?? null) : undefined);
      }
    }
  }

  /** Hands a read row to the watch's listeners, unless the watch is gone or already saw a newer version. */
  private deliver(watch: Watch, row: TaskEntity | null | undefined): void {
    // Every listener may have left while the read was under way.
    if (this.watches.get(watch.id) !== watch) return;
    if (row) {
      const version = row.updatedAt.getTime();
      if (version < watch.version) return;
      watch.version = version;
    }
    for (const listener of [...watch.listeners]) listener(row);
  }
}
