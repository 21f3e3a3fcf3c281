import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { TaskPipeline } from '../pipeline/pipeline';
import type { FlowPolicy } from './flow-policy';
import type { TaskError, TaskProgress, TaskStatus } from './task-status';

/**
 * One row per task: the durable record that outlives the BullMQ job.
 * Column types here are the portable ones TypeORM converts values for; the migration
 * creates the concrete per-dialect types (uuid/char(36), timestamptz/datetime(3), json).
 */
@Entity({ name: 'tasks' })
export class TaskEntity {
  /** UUIDv7: time-ordered, so `id DESC` is newest first and doubles as the paging cursor. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 128 })
  type: string;

  @Column({ type: 'varchar', length: 64 })
  queue: string;

  @Column({ type: 'varchar', length: 16 })
  status: TaskStatus;

  @Column({ type: 'smallint' })
  priority: number;

  @Column({ type: 'json' })
  payload: unknown;

  @Column({ type: 'json', nullable: true })
  result: unknown;

  @Column({ type: 'json', nullable: true })
  error: TaskError | null;

  @Column({ type: 'json', nullable: true })
  progress: TaskProgress | null;

  @Column({ type: 'int' })
  attempts: number;

  /** Total attempts allowed so far; grows by `attemptBudget` with each manual retry. */
  @Column({ name: 'max_attempts', type: 'int' })
  maxAttempts: number;

  /** Attempts one run may use (the requested maxAttempts); not part of the public view. */
  @Column({ name: 'attempt_budget', type: 'int' })
  attemptBudget: number;

  @Column({ name: 'timeout_ms', type: 'int' })
  timeoutMs: number;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey: string | null;

  /** The id the client chose on enqueue (`id`), unique per tenant; null when it chose none. */
  @Column({ name: 'client_id', type: 'varchar', length: 128, nullable: true })
  clientId: string | null;

  /** sha256 of the request that first used `idempotencyKey` or `clientId`; not part of the public view. */
  @Column({ name: 'idempotency_hash', type: 'char', length: 64, nullable: true })
  idempotencyHash: string | null;

  @Column({ type: 'json', nullable: true })
  tags: string[] | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamp', precision: 3 })
  updatedAt: Date;

  @Column({ name: 'scheduled_for', type: 'timestamp', precision: 3, nullable: true })
  scheduledFor: Date | null;

  @Column({ name: 'expires_at', type: 'timestamp', precision: 3, nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'started_at', type: 'timestamp', precision: 3, nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamp', precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'worker_id', type: 'varchar', length: 128, nullable: true })
  workerId: string | null;

  /** The task whose handler asked for this one as a follow-up (null for a task of its own). */
  @Column({ name: 'parent_id', type: 'varchar', length: 36, nullable: true })
  parentId: string | null;

  /** The first task of the chain this one belongs to (null for a task of its own). */
  @Column({ name: 'root_id', type: 'varchar', length: 36, nullable: true })
  rootId: string | null;

  /**
   * For a node of a flow (not its root): what its failure does to its parent (`parentId`), one
   * of FLOW_POLICIES. Null for a task of its own and for a follow-up.
   */
  @Column({ name: 'on_failure', type: 'varchar', length: 16, nullable: true })
  onFailure: FlowPolicy | null;

  /** The schedule whose tick created this task (null for a task of its own). */
  @Column({ name: 'schedule_id', type: 'varchar', length: 36, nullable: true })
  scheduleId: string | null;

  /** That tick's nominal time; unique with `scheduleId`, so a tick makes at most one task. */
  @Column({ name: 'schedule_tick', type: 'timestamp', precision: 3, nullable: true })
  scheduleTick: Date | null;

  /**
   * For a task of a pipeline: the input it was handed and the `then` steps still to run after it
   * (null for a task of its own). Kept in the row so that a retry or a re-queued job goes on
   * with the same steps.
   */
  @Column({ type: 'json', nullable: true })
  pipeline: TaskPipeline | null;

  /**
   * Where the task's terminal event is sent, signed, once (`callback: {url}` of the request);
   * null for none. Checked by the SSRF guard when the task is accepted and before every attempt.
   */
  @Column({ name: 'callback_url', type: 'varchar', length: 2048, nullable: true })
  callbackUrl: string | null;

  /**
   * The OpenTelemetry trace the task belongs to (the request or the attempt that created it;
   * 32 hex digits), shared by every attempt; null when tracing was off when it was created.
   */
  @Column({ name: 'trace_id', type: 'varchar', length: 32, nullable: true })
  traceId: string | null;
}
