import { Inject, Injectable } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskMetrics } from '@conveyor/observability';
import { TaskFailure, TaskTimeoutError } from '../contracts/task-failure';
import type { TaskContext, TaskHandler } from '../contracts/task-handler';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { TaskStateWriter } from '../ledger/task-state-writer';
import type { TaskError } from '../ledger/task-status';
import type { TaskJobData } from '../task-job';

export interface BoundHandler {
  definition: TaskTypeDefinition;
  handler: TaskHandler;
}

/** Longest error message kept in the ledger; stack traces stay in the logs. */
const MAX_ERROR_MESSAGE = 2000;

function toTaskError(error: unknown): TaskError {
  if (error instanceof TaskFailure) return { code: error.code, message: error.message.slice(0, MAX_ERROR_MESSAGE) };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'HANDLER_ERROR', message: message.slice(0, MAX_ERROR_MESSAGE) };
}

/**
 * Runs one attempt of one task: the wrapper every handler gets for free. It binds the log
 * context, records state in the ledger, enforces the time limit through an AbortSignal,
 * throttles progress, classifies failures and records metrics. Handlers stay thin.
 */
@Injectable()
export class TaskRunner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly writer: TaskStateWriter,
    private readonly metrics: TaskMetrics,
    private readonly logger: PinoLogger,
  ) {}

  run(job: Job<TaskJobData>, bound: BoundHandler): Promise<unknown> {
    const attempt = job.attemptsMade + 1;
    return this.logger.runInContext(() => this.attempt(job, bound, attempt), {
      bindings: { taskId: job.id, taskType: job.name, attempt, queue: bound.definition.queue },
    });
  }

  private async attempt(job: Job<TaskJobData>, { definition, handler }: BoundHandler, attempt: number) {
    const taskId = job.id as string;
    const { type, queue } = definition;
    const maxAttempts = job.opts.attempts ?? 1;
    const started = Date.now();
    if (job.data.expiresAt !== undefined && started > job.data.expiresAt) {
      // Not started before its deadline: it must never run. Completing the job (not failing
      // it) keeps BullMQ from retrying; the ledger says why.
      await this.writer.write(taskId, {
        status: 'expired',
        error: { code: 'EXPIRED', message: 'the task was not started before its deadline' },
        finishedAt: new Date(started),
      });
      this.logger.info('task expired before it started');
      return null;
    }
    // Wait counts from when the task could first run (after any delay), not from creation.
    this.metrics.attemptStarted(type, queue, (started - job.timestamp - (job.opts.delay ?? 0)) / 1000);

    // Not awaited: a later terminal write for the same task merges with it or follows it.
    void this.writer.write(taskId, {
      status: 'active',
      attempts: attempt,
      startedAt: new Date(started),
      finishedAt: null,
      workerId: this.config.worker.id,
    });

    const timeoutMs = job.data.timeoutMs;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });

    let lastProgressAt = 0;
    const context: TaskContext = {
      taskId,
      tenantId: job.data.tenantId,
      type,
      attempt,
      maxAttempts,
      signal: controller.signal,
      logger: this.logger.logger,
      progress: (percent, message) => {
        const now = Date.now();
        if (now - lastProgressAt < this.config.tasks.progressIntervalMs && percent < 100) return;
        lastProgressAt = now;
        const progress = { percent: Math.max(0, Math.min(100, Math.round(percent * 10) / 10)), ...(message ? { message } : {}) };
        void this.writer.write(taskId, { progress });
        void job.updateProgress(progress).catch(() => undefined);
      },
    };

    try {
      // A handler that ignores its signal is abandoned when the time is up: the attempt fails
      // with TIMEOUT and the worker slot is freed, though the handler's own promise runs on.
      const result = await Promise.race([handler.handle(job.data.payload, context), timedOut]);
      const seconds = (Date.now() - started) / 1000;
      await this.writer.write(taskId, {
        status: 'completed',
        result: result ?? null,
        error: null,
        finishedAt: new Date(),
      });
      this.metrics.completed(type, queue, seconds);
      this.logger.info({ durationMs: Math.round(seconds * 1000) }, 'task completed');
      return result ?? null;
    } catch (error) {
      const seconds = (Date.now() - started) / 1000;
      const taskError = toTaskError(error);
      const retryable = !(error instanceof TaskFailure) || error.retryable;
      const final = !retryable || attempt >= maxAttempts;
      await this.writer.write(taskId, {
        status: final ? 'failed' : 'retrying',
        error: taskError,
        ...(final ? { finishedAt: new Date() } : {}),
      });
      this.metrics.failed(type, queue, taskError.code, final, seconds);
      this.logger.warn(
        { err: error, code: taskError.code, final, durationMs: Math.round(seconds * 1000) },
        final ? 'task failed' : 'task attempt failed; will retry',
      );
      // UnrecoverableError tells BullMQ not to use the remaining attempts.
      throw !retryable ? new UnrecoverableError(taskError.message) : error;
    } finally {
      clearTimeout(timer);
    }
  }
}
