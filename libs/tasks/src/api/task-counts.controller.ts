import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { ReadableTenants, RequireScopes } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { TASK_STATUSES } from '../ledger/task-status';
import { TaskCountsQuery, TaskCountsView } from './task-counts.dto';

/** Counted up to this many per status: enough to read at a glance, cheap on any ledger size. */
const COUNT_CAP = 10_000;

/** The console's live status counts. A static path: Fastify matches it before `v1/tasks/:id`. */
@Controller('v1/tasks/counts')
export class TaskCountsController {
  constructor(private readonly ledger: TaskLedgerService) {}

  @Get()
  @RequireScopes('tasks:read')
  @ApiOkResponse({ type: TaskCountsView })
  async counts(@ReadableTenants() tenants: string[], @Query() query: TaskCountsQuery): Promise<TaskCountsView> {
    return { counts: await this.ledger.countByStatus(tenants, TASK_STATUSES, COUNT_CAP + 1, query.type), cap: COUNT_CAP };
  }
}
