import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DelayedError, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import type { TaskJobData } from '../task-job';
import { FAIRNESS_KEYS } from './fair-ordering';
import type { QueueHandle } from './queue-script';
import { ACQUIRE_SLOT, RELEASE_SLOTS, RENEW_SLOTS, UNCOUNT_START } from './tenant-slot-scripts';

/** A slot held for one running job; release it once the attempt ends, however it ends. */
export interface TenantSlot {
  release(): void;
}

const NO_SLOT: TenantSlot = { release: () => undefined };
/** Before deferring a job, the worker asks again this many times, this far apart: a slot often frees within a task's length. */
const RETRIES = 2;
const RETRY_MS = 25;
/**
 * How long a worker trusts its last look at whether a queue has any tenant cap. With no default
 * cap and no tenant's own, no slot is counted (no Redis call per task); a cap set at runtime
 * takes hold within this, counting the tasks that start from then on.
 */
const CAPS_LOOK_MS = 1000;

interface Held {
  handle: QueueHandle;
  ids: Set<string>;
}

/**
 * The worker side of per-tenant caps. Before a job's handler runs, its tenant must get a slot
 * in the job's queue (TENANT_CONCURRENCY_DEFAULT, or the tenant's own cap set at runtime; with
 * TENANT_CONCURRENCY_BORROW a tenant alone at the front of the queue may go over it); a job
 * over the cap goes back to BullMQ's delayed set for FAIRNESS_DEFER_MS, its attempt count
 * untouched, and keeps its place in the fair order. Slots are leases of one lock duration,
 * renewed while the job runs: a worker killed with -9 frees its slots when they lapse.
 */
@Injectable()
export class TenantSlots implements OnModuleDestroy {
  private readonly logger = new Logger(TenantSlots.name);
  /** Held slots by running-set key. */
  private readonly held = new Map<string, Held>();
  private renewal: NodeJS.Timeout | undefined;
  /** Slots given back and not yet sent, by running-set key. */
  private readonly releasing = new Map<string, Held>();
  private releaseTimer: NodeJS.Immediate | undefined;
  /** Whether each queue's caps hash had any entry, and when that was read. */
  private readonly capsLook = new Map<string, { any: boolean; at: number }>();
  /** The read of a caps hash under way: the slots that ask meanwhile share it. */
  private readonly capsReads = new Map<string, Promise<boolean>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  private get leaseMs(): number {
    return this.config.worker.lockDurationMs;
  }

  /**
   * The job's slot, or (over the cap) the job deferred and a DelayedError thrown, which tells
   * BullMQ the processor handed the job back itself.
   */
  async admit(handle: QueueHandle, job: Job<TaskJobData>, token: string | undefined): Promise<TenantSlot> {
    if (!this.config.fairness.enabled) return NO_SLOT;
    const inUse = this.capsInUse(handle);
    if (inUse === false || (inUse !== true && !(await inUse))) return NO_SLOT;
    const tenant = job.data.tenantId;
    const id = job.id as string;
    const key = handle.toKey(FAIRNESS_KEYS.running + tenant);
    const { tenantConcurrencyDefault, borrow } = this.config.fairness;
    const args = [
      key,
      handle.toKey(FAIRNESS_KEYS.caps),
      handle.keys.prioritized,
      tenant,
      id,
      tenantConcurrencyDefault,
      this.leaseMs,
      handle.toKey(''),
      borrow ? '1' : '0',
    ];
    for (let tries = 0; ; tries++) {
      let taken: unknown;
      try {
        taken = await ACQUIRE_SLOT.run(handle, args);
      } catch (error) {
        // Fail open: a task must not lose an attempt to a Redis hiccup of the fairness layer.
        this.logger.warn({ err: error, tenant, taskId: id }, 'could not check the tenant cap; running the task uncapped');
        return NO_SLOT;
      }
      if (taken === 1) return this.hold(handle, key, id);
      if (tries >= RETRIES) break;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    // Not started: the start BullMQ counted is taken back, and the job waits with its priority kept.
    await UNCOUNT_START.run(handle, [handle.toKey(id)]);
    await job.moveToDelayed(Date.now() + this.config.fairness.deferMs, token);
    throw new DelayedError(`tenant ${tenant} is at its concurrency cap`);
  }

  /**
   * A default cap, or any tenant's own in this queue (read at most once per CAPS_LOOK_MS, by one
   * caller at a time). Answers at once from the last look: most tasks pay no Redis call and no await.
   */
  private capsInUse(handle: QueueHandle): boolean | Promise<boolean> {
    if (this.config.fairness.tenantConcurrencyDefault > 0) return true;
    const key = handle.toKey(FAIRNESS_KEYS.caps);
    const look = this.capsLook.get(key);
    if (look && Date.now() - look.at < CAPS_LOOK_MS) return look.any;
    let reading = this.capsReads.get(key);
    if (!reading) {
      reading = this.readCaps(handle, key).finally(() => this.capsReads.delete(key));
      this.capsReads.set(key, reading);
    }
    return reading;
  }

  private async readCaps(handle: QueueHandle, key: string): Promise<boolean> {
    try {
      const client = (await handle.getBackend().client) as unknown as { exists(key: string): Promise<number> };
      const any = (await client.exists(key)) > 0;
      this.capsLook.set(key, { any, at: Date.now() });
      return any;
    } catch {
      // As below: without an answer, check the cap the usual way (the script fails open).
      return true;
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.renewal);
    this.renewal = undefined;
  }

  private hold(handle: QueueHandle, key: string, id: string): TenantSlot {
    const held = this.held.get(key) ?? { handle, ids: new Set<string>() };
    held.ids.add(id);
    this.held.set(key, held);
    this.renewal ??= setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 3))).unref();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.ids.delete(id);
        if (held.ids.size === 0) this.held.delete(key);
        this.releaseSoon(handle, key, id);
      },
    };
  }

  /**
   * Releases go out together, one script call per tenant key a turn of the event loop later: a
   * busy worker ends many tasks at once, and the slot is free a moment later either way. A
   * release that fails leaves the slot to lapse with its lease.
   */
  private releaseSoon(handle: QueueHandle, key: string, id: string): void {
    const pending = this.releasing.get(key) ?? { handle, ids: new Set<string>() };
    pending.ids.add(id);
    this.releasing.set(key, pending);
    this.releaseTimer ??= setImmediate(() => {
      this.releaseTimer = undefined;
      const batches = [...this.releasing];
      this.releasing.clear();
      for (const [batchKey, batch] of batches) {
        RELEASE_SLOTS.run(batch.handle, [batchKey, ...batch.ids]).catch((error: unknown) =>
          this.logger.warn({ err: error, key: batchKey }, 'could not release tenant slots; they lapse'),
        );
      }
    });
  }

  private async renew(): Promise<void> {
    await Promise.all(
      [...this.held].map(([key, { handle, ids }]) =>
        RENEW_SLOTS.run(handle, [key, this.leaseMs, ...ids]).catch((error: unknown) => this.logger.warn({ err: error, key }, 'could not renew tenant slots')),
      ),
    );
  }
}
