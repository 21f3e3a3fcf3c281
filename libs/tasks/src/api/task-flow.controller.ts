import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ReadableTenants, RequireScopes } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { FlowView } from './flow-view.dto';
import { FlowsService } from './flows.service';
import { TaskId, taskNotFound } from './task-id.param';

/** `GET /v1/tasks/:id/flow`: the tree a task belongs to, asked from any of its nodes. */
@Controller('v1/tasks')
export class TaskFlowController {
  constructor(
    private readonly ledger: TaskLedgerService,
    private readonly flows: FlowsService,
  ) {}

  @Get(':id/flow')
  @RequireScopes('tasks:read')
  @ApiOperation({
    operationId: 'getTaskFlow',
    summary: 'The flow or chain of follow-ups a task belongs to, from its root',
  })
  @ApiResponse({
    status: 200,
    type: FlowView,
    description: 'The tree from its root (a flow’s root, or the task that started the chain); a task in neither is a tree of one',
  })
  @ApiResponse({ status: 404, description: 'TASK_NOT_FOUND: no such task in the key’s tenant; FLOW_NOT_FOUND: its root has been deleted' })
  async get(@ReadableTenants() tenants: string[], @TaskId() id: string): Promise<FlowView> {
    const task = await this.ledger.findByAnyId(tenants, id);
    if (!task) throw taskNotFound();
    return this.flows.ofTask(task);
  }
}
