import { OmitType } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';
import { OpaqueJson } from '@conveyor/http';
import type { PipelineStepRequest } from '../pipeline/pipeline';
import { CreateTaskDto } from './create-task.dto';

/**
 * One `then` step: a task type allowed as a pipeline step, its own payload (the fields the
 * pipeline fills from the steps before it are left out), and the task options of
 * `POST /v1/tasks` but `id` and `callback` (those belong to the pipeline's first task). Its idempotency key is the pipeline's own: each step exists once per parent.
 */
export class PipelineStepDto extends OmitType(CreateTaskDto, ['id', 'payload', 'idempotencyKey', 'callback'] as const) implements PipelineStepRequest {
  /** Checked against the step type's contract, with the fields the pipeline fills left out. */
  @IsOptional()
  @IsObject()
  @OpaqueJson()
  payload?: Record<string, unknown>;
}
