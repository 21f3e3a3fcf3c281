import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import { CurrentTenant, ReadableTenants, RequireScopes } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { BulkOutcomeView, BulkSelectionDto, FailureGroupsView } from './task-bulk.dto';
import { TaskBulkService } from './task-bulk.service';

/** Failed tasks grouped per page of the inbox at most. */
const FAILURE_WINDOW = 10_000;

/** The failed inbox: its groups, and retry / cancel of many tasks by ids or by filter. */
@Controller('v1/tasks')
export class TaskBulkController {
  constructor(
    private readonly bulk: TaskBulkService,
    private readonly ledger: TaskLedgerService,
  ) {}

  @Get('failures')
  @RequireScopes('tasks:read')
  @ApiOkResponse({ type: FailureGroupsView })
  async failures(@ReadableTenants() tenants: string[]): Promise<FailureGroupsView> {
    return { groups: await this.ledger.failureGroups(tenants, FAILURE_WINDOW), window: FAILURE_WINDOW };
  }

  @Post('bulk/retry')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: BulkOutcomeView, description: 'Every selected task is either in `done` or in `skipped` with the reason' })
  @ApiResponse({ status: 400, description: 'BULK_SELECTION_INVALID (not exactly one of ids, filter) or BULK_STATUS_INVALID' })
  retry(@CurrentTenant() tenantId: string, @Body() body: BulkSelectionDto): Promise<BulkOutcomeView> {
    return this.bulk.retry(tenantId, body);
  }

  @Post('bulk/cancel')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: BulkOutcomeView, description: 'Waiting tasks are cancelled at once; running ones are told to stop' })
  @ApiResponse({ status: 400, description: 'BULK_SELECTION_INVALID (not exactly one of ids, filter) or BULK_STATUS_INVALID (filter.status is required)' })
  cancel(@CurrentTenant() tenantId: string, @Body() body: BulkSelectionDto): Promise<BulkOutcomeView> {
    return this.bulk.cancel(tenantId, body);
  }
}
