import { DomainError } from '@conveyor/errors';
import type { FollowUpOptions } from '../contracts/task-handler';
import { TaskFailure } from '../contracts/task-failure';
import type { TaskTypeDefinition } from '../contracts/task-type';
import type { TaskFactory } from '../intake/task-factory';
import type { TaskEntity } from '../ledger/task.entity';
import type { PipelineContinuation } from '../pipeline/pipeline-continuation';

/** Follow-ups one attempt may ask for. */
export const MAX_FOLLOW_UPS = 1000;

/** Longest follow-up key: with the prefix and the parent's id it stays a valid idempotency key. */
const MAX_KEY_LENGTH = 128;

/** The key of a pipeline's next step among its parent's follow-ups; a handler may not use it. */
export const PIPELINE_STEP_KEY = 'pipeline:next';

/** The task whose handler asks for follow-ups. */
export interface FollowUpParent {
  taskId: string;
  tenantId: string;
  definition: TaskTypeDefinition;
  /** The parent's own root, if it is a follow-up itself. */
  rootId?: string;
}

/**
 * The follow-ups one attempt asks for (`context.enqueue`), checked as they come and kept
 * until the attempt completes; the runner writes them with the completion (or drops them when
 * the attempt fails). Each gets the idempotency key `conveyor:follow-up:<parent>:<key>`, so the
 * ledger's unique index keeps a re-run of the parent from creating any of them twice.
 */
export class FollowUps {
  private readonly rows: TaskEntity[] = [];
  private readonly keys = new Set<string>();
  private calls = 0;

  constructor(
    private readonly factory: TaskFactory,
    private readonly parent: FollowUpParent,
  ) {}

  async add<P extends object, R>(definition: TaskTypeDefinition<P, R>, payload: P, options: FollowUpOptions = {}): Promise<void> {
    // The position is taken at the call, so concurrent calls keep the order they were made in.
    const key = options.key ?? String(this.calls);
    this.calls += 1;
    if (this.calls > MAX_FOLLOW_UPS) throw new TaskFailure('TOO_MANY_FOLLOW_UPS', `a task may ask for at most ${MAX_FOLLOW_UPS} follow-ups`, false);
    if (!this.parent.definition.followUps.some((declared) => declared.type === definition.type)) {
      throw new TaskFailure(
        'FOLLOW_UP_NOT_DECLARED',
        `${this.parent.definition.type} did not declare "${definition.type}" in its followUps; declared: ${this.parent.definition.followUps.map((d) => d.type).join(', ') || 'none'}`,
        false,
      );
    }
    if (key === PIPELINE_STEP_KEY) throw new TaskFailure('INVALID_FOLLOW_UP', `the follow-up key "${PIPELINE_STEP_KEY}" is reserved for pipelines`, false);
    await this.push(definition, payload as Record<string, unknown>, key, options);
  }

  /**
   * The next step of the pipeline this task belongs to: a follow-up like the others (same
   * transaction, same exactly-once key scheme), but not one the handler asked for, so the
   * task type's `followUps` do not list it; the pipeline was checked when it was accepted.
   */
  async continuePipeline(next: PipelineContinuation): Promise<void> {
    await this.push(next.definition, next.payload, PIPELINE_STEP_KEY, next.options, next.pipeline);
  }

  private async push(
    definition: TaskTypeDefinition,
    payload: Record<string, unknown>,
    key: string,
    options: FollowUpOptions,
    pipeline?: PipelineContinuation['pipeline'],
  ): Promise<void> {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH)
      throw new TaskFailure('INVALID_FOLLOW_UP', `a follow-up key has 1 to ${MAX_KEY_LENGTH} characters`, false);
    if (this.keys.has(key)) throw new TaskFailure('FOLLOW_UP_KEY_REUSED', `two follow-ups of this task have the key "${key}"`, false);
    this.keys.add(key);
    const { key: _key, idempotencyKey, ...taskOptions } = options;
    const request = {
      ...taskOptions,
      type: definition.type,
      payload,
      idempotencyKey: idempotencyKey ?? `conveyor:follow-up:${this.parent.taskId}:${key}`,
    };
    try {
      const [prepared] = await this.factory.prepare(this.parent.tenantId, [request], {
        parentId: this.parent.taskId,
        rootId: this.parent.rootId ?? this.parent.taskId,
        ...(pipeline ? { pipeline } : {}),
      });
      this.rows.push(prepared.row);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const details = (error.details ?? []).map((d) => `${d.field}: ${d.message}`).join('; ');
      throw new TaskFailure(
        'INVALID_FOLLOW_UP',
        `follow-up ${definition.type} refused (${error.code}): ${error.message}${details ? ` (${details})` : ''}`,
        false,
      );
    }
  }

  /** The rows to write with the completion, in the order asked for. */
  all(): TaskEntity[] {
    return [...this.rows];
  }
}
