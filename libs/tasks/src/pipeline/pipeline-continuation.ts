import { TaskFailure } from '../contracts/task-failure';
import type { FollowUpOptions } from '../contracts/task-handler';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { WHOLE_INPUT, type PipelineInput, type TaskPipeline } from './pipeline';

/** The next step of a pipeline, ready to be asked for as a follow-up of the task that just completed. */
export interface PipelineContinuation {
  definition: TaskTypeDefinition;
  /** The step's own payload with the fields the pipeline fills (its `takes`) set from the input. */
  payload: Record<string, unknown>;
  options: FollowUpOptions;
  /** What the step's row carries: the input it was handed and the steps after it. */
  pipeline: TaskPipeline;
}

/** The input after a task of `definition` completed with `result`: what it had, plus what it hands on. */
export function inputAfter(definition: TaskTypeDefinition, result: unknown, input: PipelineInput = {}): PipelineInput {
  const next = { ...input };
  for (const [key, read] of Object.entries(definition.pipeline.handsOn ?? {})) {
    const value = read(result);
    if (value !== undefined) next[key] = value;
  }
  return next;
}

/** A step's payload: its own fields, and the ones its type takes from the input. */
export function stepPayload(definition: TaskTypeDefinition, own: Record<string, unknown> | undefined, input: PipelineInput): Record<string, unknown> {
  const payload = { ...own };
  for (const [field, key] of Object.entries(definition.pipeline.takes ?? {})) {
    if (typeof key !== 'string') continue;
    const value = key === WHOLE_INPUT ? input : input[key];
    if (value !== undefined) payload[field] = value;
  }
  return payload;
}

/**
 * What comes after a task of `definition` that completed with `result`, if it belongs to a
 * pipeline with steps left: the first of them, handed the input so far plus this task's
 * `handsOn` values, and carrying the rest. A step type the process does not know (a pipeline
 * accepted by a newer API during a rolling deploy) fails the task for good: its follow-up
 * cannot be written, and retrying would not change that.
 */
export function nextPipelineStep(
  pipeline: TaskPipeline | null | undefined,
  definition: TaskTypeDefinition,
  result: unknown,
  types: { get(type: string): TaskTypeDefinition | undefined },
): PipelineContinuation | undefined {
  if (!pipeline || pipeline.steps.length === 0) return undefined;
  const [step, ...rest] = pipeline.steps;
  const next = types.get(step.type);
  if (!next) throw new TaskFailure('INVALID_FOLLOW_UP', `the pipeline's next step "${step.type}" is not a task type this worker knows`, false);
  const input = inputAfter(definition, result, pipeline.input);
  const { type: _type, payload, ...options } = step;
  return { definition: next, payload: stepPayload(next, payload, input), options, pipeline: { input, steps: rest } };
}
