import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, type Repository } from 'typeorm';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { TaskEntity } from '../ledger/task.entity';
import { isTerminal, TASK_STATUSES } from '../ledger/task-status';
import { noCommitEffects } from './commit-effects';
import { CommitEffectsRelay } from './commit-effects.relay';
import { FlowSettler } from './flow-settler';

const UNFINISHED = TASK_STATUSES.filter((status) => !isTerminal(status));
/** Parents settled per pass at most; the next pass takes the rest. */
const PAGE_SIZE = 200;

/**
 * The safety net of flows. A parent is settled in the same transaction as each child's end, so
 * nothing should ever be left for this; but a parent `waiting` although all its children have
 * ended (or one failed under `fail-parent` / `cancel-siblings`), and unchanged since `olderThan`,
 * would wait forever: this settles it like its last child would have, and says so in the log.
 * Runs with the reconciler (one process at a time).
 */
@Injectable()
export class FlowSweeper {
  private readonly logger = new Logger(FlowSweeper.name);

  constructor(
    @InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>,
    private readonly ledger: TaskLedgerService,
    private readonly settler: FlowSettler,
    private readonly effects: CommitEffectsRelay,
  ) {}

  /** Returns how many stranded parents it settled. */
  async sweep(olderThan: Date): Promise<number> {
    const stranded = await this.tasks
      .createQueryBuilder('p')
      .select(['p.id', 'p.tenantId'])
      .where('p.status = :waiting', { waiting: 'waiting' })
      .andWhere('p.updatedAt < :olderThan', { olderThan })
      .andWhere(
        new Brackets((where) =>
          where
            .where(
              'NOT EXISTS (SELECT 1 FROM tasks c WHERE c.tenant_id = p.tenant_id AND c.parent_id = p.id AND c.on_failure IS NOT NULL AND c.status IN (:...unfinished))',
              { unfinished: UNFINISHED },
            )
            .orWhere(
              'EXISTS (SELECT 1 FROM tasks c WHERE c.tenant_id = p.tenant_id AND c.parent_id = p.id AND c.on_failure IN (:...failing) AND c.status IN (:...failed))',
              { failing: ['fail-parent', 'cancel-siblings'], failed: ['failed', 'cancelled', 'expired'] },
            ),
        ),
      )
      .orderBy('p.id', 'ASC')
      .limit(PAGE_SIZE)
      .getMany();
    for (const parent of stranded) {
      const effects = noCommitEffects();
      await this.ledger.inTransaction((manager) => this.settler.settle(manager, [{ id: parent.id, tenantId: parent.tenantId }], effects));
      await this.effects.apply(effects);
      this.logger.warn({ taskId: parent.id, tenantId: parent.tenantId }, 'flow parent settled by the sweep: its children had ended without settling it');
    }
    return stranded.length;
  }
}
