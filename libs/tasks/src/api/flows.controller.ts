import { Body, Controller, Get, Headers, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentTenant, RequireScopes } from '@conveyor/http';
import { FlowNodeDto } from './flow.dto';
import { FlowCreatedView, FlowView } from './flow-view.dto';
import { flowNotFound, FlowsService } from './flows.service';
import { idempotencyKeyOf } from './idempotency-key';
import { TaskControlService } from './task-control.service';

const RootId = () => Param('rootId', new ParseUUIDPipe({ exceptionFactory: () => flowNotFound() }));

@Controller('v1/flows')
export class FlowsController {
  constructor(
    private readonly flows: FlowsService,
    private readonly control: TaskControlService,
  ) {}

  /** 202 with every node's id; 200 with the earlier flow when the Idempotency-Key was seen with the same body. */
  @Post()
  @RequireScopes('tasks:write')
  @ApiResponse({
    status: 202,
    type: FlowCreatedView,
    description: 'Accepted: every node is in the ledger, the leaves are queued; `Location` points at the flow',
  })
  @ApiResponse({ status: 200, type: FlowCreatedView, description: 'The flow created earlier with this Idempotency-Key and body' })
  @ApiResponse({ status: 400, description: 'FLOW_TOO_LARGE, FLOW_TOO_DEEP, FLOW_INVALID, or VALIDATION_FAILED naming the node (e.g. children[1].type)' })
  @ApiResponse({ status: 422, description: 'IDEMPOTENCY_KEY_REUSED: the key was used with another body' })
  @ApiOperation({ operationId: 'createFlow' })
  async create(
    @CurrentTenant() tenantId: string,
    @Body() body: FlowNodeDto,
    @Headers('idempotency-key') headerKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<FlowCreatedView> {
    body.idempotencyKey = idempotencyKeyOf(headerKey, body.idempotencyKey);
    const { created, view } = await this.flows.create(tenantId, body);
    void reply.status(created ? HttpStatus.ACCEPTED : HttpStatus.OK).header('location', `/v1/flows/${view.id}`);
    return view;
  }

  @Get(':rootId')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: FlowView, description: 'The tree with every node’s status; the flow’s status is its root’s' })
  @ApiOperation({ operationId: 'getFlow' })
  get(@CurrentTenant() tenantId: string, @RootId() rootId: string): Promise<FlowView> {
    return this.flows.get(tenantId, rootId);
  }

  /** Cancels every node of the flow that has not finished (as cancelling its root task does). */
  @Post(':rootId/cancel')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: FlowView, description: 'Cancelled: every unfinished node is `cancelled`; running ones have been told to stop' })
  @ApiResponse({ status: 409, description: 'TASK_TERMINAL: the flow had already ended' })
  @ApiOperation({ operationId: 'cancelFlow' })
  async cancel(@CurrentTenant() tenantId: string, @RootId() rootId: string): Promise<FlowView> {
    await this.flows.get(tenantId, rootId);
    await this.control.cancel(tenantId, rootId);
    return this.flows.get(tenantId, rootId);
  }
}
