import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Not, type Repository } from 'typeorm';
import type { FlowChild } from '../contracts/task-handler';
import { TaskEntity } from '../ledger/task.entity';

/**
 * What a flow parent's handler reads of its children (`ctx.children()`): each child's type,
 * status, result and error, in the order the flow listed them (ids are time-ordered and were
 * made in that order). A failed child under `ignore` is left out: the parent runs as if it had
 * not been there. Under `continue` it is listed with its status and error.
 */
@Injectable()
export class FlowChildren {
  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  async of(tenantId: string, parentId: string): Promise<FlowChild[]> {
    const rows = await this.tasks.find({
      select: { id: true, type: true, status: true, result: true, error: true, onFailure: true },
      where: { tenantId, parentId, onFailure: Not(IsNull()) },
      order: { id: 'ASC' },
    });
    return rows
      .filter((row) => !(row.onFailure === 'ignore' && row.status !== 'completed'))
      .map(({ id, type, status, result, error, onFailure }) => ({ id, type, status, result, error, onFailure: onFailure! }));
  }
}
