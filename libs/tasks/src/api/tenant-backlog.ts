import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { TaskEntity } from '../ledger/task.entity';
import { TERMINAL_STATUSES, TASK_STATUSES } from '../ledger/task-status';

const UNFINISHED = TASK_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));

/** How long a tenant's counted backlog is trusted before it is counted again. */
const RECOUNT_AFTER_MS = 1000;

interface Count {
  at: number;
  /** Unfinished rows at `at`, plus what this process accepted since. */
  value: number;
  recount?: Promise<void>;
}

/**
 * The cap on a tenant's unfinished tasks (MAX_UNFINISHED_TASKS_PER_TENANT). Counting per
 * request would cost a scan per enqueue, so each process counts a tenant's backlog at most
 * once a second, in the background (the (tenant_id, status, id) index serves it), and adds what it accepted
 * since: a soft cap, exact to within what other API processes accepted in that second.
 */
@Injectable()
export class TenantBacklog {
  private readonly counts = new Map<string, Count>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>,
  ) {}

  /** Refuses with 429 TENANT_QUEUE_FULL when `adding` more tasks would pass the cap. */
  async admit(tenantId: string, adding: number): Promise<void> {
    const cap = this.config.tasks.maxUnfinishedPerTenant;
    if (cap === 0 || adding === 0) return;
    const count = await this.current(tenantId);
    // A refusal is worth a fresh count: tasks may have finished since the last one.
    if (count.value + adding > cap && Date.now() - count.at > RECOUNT_AFTER_MS) await this.recount(tenantId, count);
    if (count.value + adding > cap) {
      throw new DomainError('rate_limited', 'TENANT_QUEUE_FULL', `This tenant has ${count.value} unfinished tasks; at most ${cap} may wait or run at once`, {
        details: [{ field: 'tasks', message: `adding ${adding} would pass MAX_UNFINISHED_TASKS_PER_TENANT (${cap})` }],
      });
    }
  }

  /** Records tasks accepted after admit(), until the next count sees them. */
  accepted(tenantId: string, added: number): void {
    const count = this.counts.get(tenantId);
    if (count) count.value += added;
  }

  /**
   * The tenant's count. Only a tenant's first request waits for it; after that a stale count
   * is used while a fresh one is taken in the background, so no request waits on the COUNT
   * (over a large backlog it takes a while, and every request of that second would queue behind it).
   */
  private async current(tenantId: string): Promise<Count> {
    let count = this.counts.get(tenantId);
    if (!count) {
      count = { at: 0, value: 0 };
      this.counts.set(tenantId, count);
      await this.recount(tenantId, count);
    } else if (Date.now() - count.at > RECOUNT_AFTER_MS) {
      void this.recount(tenantId, count).catch(() => undefined);
    }
    return count;
  }

  private recount(tenantId: string, count: Count): Promise<void> {
    count.recount ??= this.tasks
      .countBy({ tenantId, status: In(UNFINISHED) })
      .then((value) => {
        Object.assign(count, { value, at: Date.now() });
      })
      .finally(() => (count.recount = undefined));
    return count.recount;
  }
}
