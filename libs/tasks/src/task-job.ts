import type { JobsOptions, KeepJobs } from 'bullmq';
import { jobTraceCarrier } from '@conveyor/observability';
import type { FlowPolicy } from './ledger/flow-policy';
import type { TaskEntity } from './ledger/task.entity';
import type { TaskPipeline } from './pipeline/pipeline';
import { jobAttempts, RETRY_BACKOFF_TYPE } from './retry-policy';

/** What a BullMQ job carries: the job name is the task type and the job id is the task id. */
export interface TaskJobData {
  tenantId: string;
  payload: Record<string, unknown>;
  timeoutMs: number;
  /** Epoch ms after which the task must not start. */
  expiresAt?: number;
  /** Attempts the task used before this job (a manual retry keeps counting from there). */
  attemptOffset?: number;
  /**
   * For a follow-up: the task that created it, and the first task of its chain. For a flow
   * node: its flow parent (which runs after it) and the flow's root.
   */
  parentId?: string;
  rootId?: string;
  /** Set on flow nodes but the root: the edge's policy; its end settles `parentId`. */
  onFailure?: FlowPolicy;
  /** For a task of a pipeline: its input and the steps after it. */
  pipeline?: TaskPipeline;
  /** The task has a per-task callback (its URL stays in the ledger): its end concerns the webhooks. */
  callback?: true;
}

/** Failure reasons BullMQ sets itself, outside any processor (stalled or started too often). */
export const BULLMQ_GAVE_UP = /(stalled|started) more than allowable limit/;

export interface TaskJob {
  name: string;
  data: TaskJobData;
  opts: JobsOptions;
}

/**
 * What a worker knows of a job's task for the transition hooks (webhooks), so they decide from
 * memory whether its state changes concern them: tenant, type, flow root, callback.
 */
export function jobSubject(taskId: string, type: string, data: TaskJobData) {
  return { tenantId: data.tenantId, type, flowRoot: data.rootId === taskId, callback: data.callback === true };
}

/**
 * Redis keeps finished jobs only briefly: the ledger is the record, Redis the transport. For
 * completed jobs a worker applies this itself, and only to jobs whose end the ledger has
 * (CompletedJobRetention).
 */
export const KEEP_COMPLETED = { age: 3600, count: 1000 } satisfies KeepJobs;
// Failed jobs too: the ledger keeps every failure with its error; Redis memory is for work to do.
const KEEP_FAILED: KeepJobs = { age: 3600, count: 1000 };

/**
 * The BullMQ job for a ledger row: used to enqueue, to retry by hand, and to re-queue a row
 * whose job vanished from Redis. The job's attempts are what the row has left.
 */
export function jobForTask(row: TaskEntity, now = Date.now()): TaskJob {
  // The task's trace context rides in BullMQ's own telemetry field; its attempts continue it.
  const traceCarrier = jobTraceCarrier(row.traceId ?? null, row.id);
  return {
    name: row.type,
    data: {
      tenantId: row.tenantId,
      payload: row.payload as Record<string, unknown>,
      timeoutMs: row.timeoutMs,
      ...(row.expiresAt ? { expiresAt: row.expiresAt.getTime() } : {}),
      ...(row.attempts > 0 ? { attemptOffset: row.attempts } : {}),
      ...(row.parentId ? { parentId: row.parentId } : {}),
      ...(row.rootId ? { rootId: row.rootId } : {}),
      ...(row.onFailure ? { onFailure: row.onFailure } : {}),
      ...(row.pipeline ? { pipeline: row.pipeline } : {}),
      ...(row.callbackUrl ? { callback: true as const } : {}),
    },
    opts: {
      jobId: row.id,
      // BullMQ: lower number runs first and equal priorities keep FIFO order, like ours.
      priority: row.priority,
      delay: row.scheduledFor ? Math.max(0, row.scheduledFor.getTime() - now) : 0,
      attempts: jobAttempts(row),
      // The runner decides each wait (the type's backoff, or a TaskFailure's retryAfterMs) and
      // records it; BullMQ takes it through retryBackoffStrategy.
      backoff: { type: RETRY_BACKOFF_TYPE },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
      ...(traceCarrier ? { telemetry: { metadata: traceCarrier } } : {}),
    },
  };
}
