import { OmitType } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional } from 'class-validator';
import { NestedDto } from '@conveyor/http';
import { FLOW_POLICIES, type FlowPolicy } from '../ledger/flow-policy';
import { MAX_FLOW_NODES } from '../flows/flow-plan';
import { CreateTaskDto } from './create-task.dto';

/**
 * One node of `POST /v1/flows`: a task (the fields of `POST /v1/tasks` but a client-chosen `id`;
 * the root's idempotency key names the flow), the policy of its edge to its parent, and its
 * children, which all end before it runs. The body is the root node.
 */
export class FlowNodeDto extends OmitType(CreateTaskDto, ['id'] as const) {
  /** What this node's failure does to its parent (default `fail-parent`); not on the root. */
  @IsOptional()
  @IsIn(FLOW_POLICIES)
  onFailure?: FlowPolicy;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_FLOW_NODES)
  @NestedDto(() => FlowNodeDto)
  children?: FlowNodeDto[];
}
