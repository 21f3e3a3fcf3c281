import { Injectable } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskStatus } from '../ledger/task-status';
import { MAX_BULK_TASKS, type BulkOutcomeView, type BulkSelectionDto } from './task-bulk.dto';
import { TaskControlService } from './task-control.service';

const RETRYABLE: readonly TaskStatus[] = ['failed', 'cancelled', 'expired'];
const CANCELLABLE: readonly TaskStatus[] = ['waiting', 'scheduled', 'queued', 'active', 'retrying'];
/** Single-task transitions run at once: enough to finish 1000 quickly, few enough to spare the pool. */
const PARALLEL = 4;

/**
 * Retry or cancel many tasks, by ids or by filter. Each task goes through the same transition as
 * its single-task route (one guarded ledger update and its queue change), so a bulk call that
 * dies halfway has done some tasks fully and the rest not at all; calling it again is safe.
 */
@Injectable()
export class TaskBulkService {
  constructor(
    private readonly ledger: TaskLedgerService,
    private readonly control: TaskControlService,
  ) {}

  async retry(tenantId: string, selection: BulkSelectionDto): Promise<BulkOutcomeView> {
    const ids = await this.select(tenantId, selection, RETRYABLE, 'failed');
    return this.each(ids, (id) => this.control.retry(tenantId, id));
  }

  async cancel(tenantId: string, selection: BulkSelectionDto): Promise<BulkOutcomeView> {
    const ids = await this.select(tenantId, selection, CANCELLABLE, undefined);
    return this.each(ids, (id) => this.control.cancel(tenantId, id));
  }

  private async select(
    tenantId: string,
    selection: BulkSelectionDto,
    allowed: readonly TaskStatus[],
    defaultStatus: TaskStatus | undefined,
  ): Promise<string[]> {
    if (!!selection.ids === !!selection.filter) {
      throw DomainError.invalid('BULK_SELECTION_INVALID', 'Give either `ids` or `filter`', [{ field: 'ids', message: 'exactly one of ids, filter' }]);
    }
    if (selection.ids) return [...new Set(selection.ids.map((id) => id.toLowerCase()))];
    const status = selection.filter!.status ?? defaultStatus;
    if (!status || !allowed.includes(status)) {
      throw DomainError.invalid('BULK_STATUS_INVALID', `filter.status must be one of ${allowed.join(', ')}`, [
        { field: 'filter.status', message: `one of ${allowed.join(', ')}` },
      ]);
    }
    const rows = await this.ledger.list({
      tenantId,
      status,
      type: selection.filter!.type,
      errorCode: selection.filter!.errorCode,
      limit: selection.limit ?? MAX_BULK_TASKS,
    });
    return rows.map((row) => row.id);
  }

  /** A task refused with a 4xx (gone, finished meanwhile, not retryable) is skipped; anything else stops the call. */
  private async each(ids: string[], action: (id: string) => Promise<unknown>): Promise<BulkOutcomeView> {
    const done: string[] = [];
    const skipped: BulkOutcomeView['skipped'] = [];
    const queue = [...ids];
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let id = queue.shift(); id; id = queue.shift()) {
          try {
            await action(id);
            done.push(id);
          } catch (error) {
            if (!(error instanceof DomainError) || error.kind === 'unavailable') throw error;
            skipped.push({ id, code: error.code, message: error.message });
          }
        }
      }),
    );
    return { done, skipped };
  }
}
