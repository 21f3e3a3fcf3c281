import type { TaskRequest } from '../intake/task-request';

/** Longest `then`: each step is a task of its own, and a chain this long is already a workflow. */
export const MAX_PIPELINE_STEPS = 10;

/**
 * What a pipeline hands from one step to the next: small named values (`fileId`, `summary`, …),
 * each added by a type's `handsOn` when its task completes. Later steps add to it; a key given
 * again is replaced, so `fileId` is always the latest file of the chain.
 */
export type PipelineInput = Record<string, unknown>;

/** One `then` step as asked for: a task type, its own payload, and the options of `POST /v1/tasks`. */
export type PipelineStepRequest = Omit<TaskRequest, 'id' | 'payload' | 'idempotencyKey' | 'callback'> & { payload?: Record<string, unknown> };

/**
 * Stored with a task that belongs to a pipeline (ledger column `pipeline`): the input it was
 * handed and the steps still to run after it. The first of them is created as this task's
 * follow-up when it completes, carrying the rest.
 */
export interface TaskPipeline {
  input: PipelineInput;
  steps: PipelineStepRequest[];
}

/** Takes the whole input rather than one value of it (see PipelineRole.takes). */
export const WHOLE_INPUT = '*';

/**
 * How a task type takes part in pipelines, declared in its contract (`defineTaskType({pipeline})`).
 * A type with `takes` may run as a `then` step; a type with `handsOn` passes values on to the
 * step after it. A step is allowed where every input key it takes is handed on by some task
 * before it, which is checked when the pipeline is accepted.
 */
export interface PipelineRole<P extends object = object, R = unknown> {
  /**
   * Payload field → input key whose value the pipeline puts there (`"*"`: the whole input).
   * These fields are the pipeline's: a step's own payload may not set them. `{}` for a step
   * that needs nothing from before.
   */
  readonly takes?: { readonly [field in keyof P & string]?: string };
  /** Input key → how to read it from this type's result, once a task of it completes. */
  readonly handsOn?: Readonly<Record<string, ReadResult<R>>>;
}

// Method syntax keeps the parameter bivariant, so a contract's role (typed by its result) fits
// where any role is expected (the registry holds every type as TaskTypeDefinition<object, unknown>).
type ReadResult<R> = { read(result: R): unknown }['read'];

/** The input keys a step takes (not counting `"*"`). */
export function inputKeysTaken(role: PipelineRole): string[] {
  return Object.values(role.takes ?? {}).filter((key): key is string => typeof key === 'string' && key !== WHOLE_INPUT);
}
