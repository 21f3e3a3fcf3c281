import { Inject, Injectable, Optional } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError, type DomainErrorDetail } from '@conveyor/errors';
import { activeTraceId } from '@conveyor/observability';
import { findUnsafeInput, flattenValidationErrors, isPlainlyValid, unsafeInputError, validationFailed } from '@conveyor/http';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { TaskEntity } from '../ledger/task.entity';
import { initialMaxAttempts } from '../retry-policy';
import { jobForTask } from '../task-job';
import { parseInstant } from './instant';
import type { PreparedTask } from './job-relay';
import { requestFingerprint } from './request-fingerprint';
import { TASK_CALLBACK_GUARD, type TaskCallbackGuard } from './task-callback-guard';
import { MAX_DELAY_MS, type TaskOrigin, type TaskRequest } from './task-request';

/**
 * Turns task requests into ledger rows and their jobs, checked against each type's contract:
 * known type, payload within the input limits and the type's size cap, payload valid by its
 * class-validator rules, a readable `runAt` at most a year ahead, no idempotency key twice.
 * One place for every producer: the HTTP API, a handler's follow-ups, a schedule's ticks.
 * Refusals are DomainErrors (invalid, with details per field; too_large for sizes).
 */
@Injectable()
export class TaskFactory {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    @Optional() @Inject(TASK_CALLBACK_GUARD) private readonly callbacks?: TaskCallbackGuard,
  ) {}

  async prepare(tenantId: string, requests: TaskRequest[], origin?: TaskOrigin): Promise<PreparedTask[]> {
    const details: DomainErrorDetail[] = [];
    const prepared: PreparedTask[] = [];
    const keysSeen = new Set<string>();
    const idsSeen = new Set<string>();
    const now = Date.now();
    for (const [index, request] of requests.entries()) {
      const at = requests.length > 1 ? `tasks[${index}].` : '';
      const definition = this.registry.visibleTo(tenantId, request.type);
      if (!definition) {
        if (requests.length === 1) {
          throw DomainError.invalid('UNKNOWN_TASK_TYPE', `Unknown task type "${request.type}"`, [
            {
              field: `${at}type`,
              message: `known types: ${this.registry
                .all(tenantId)
                .map((t) => t.type)
                .join(', ')}`,
            },
          ]);
        }
        details.push({ field: `${at}type`, message: `unknown task type "${request.type}"`, code: 'UNKNOWN_TASK_TYPE' });
        continue;
      }
      // Payloads reach here from JSON bodies (checked on arrival) and from other producers,
      // e.g. multipart form fields: the same limits hold for every one of them, before any copy.
      const unsafe = findUnsafeInput(request.payload, this.config.limits.json);
      if (unsafe) {
        const field = unsafe.field ? `${at}payload${unsafe.field.startsWith('[') ? '' : '.'}${unsafe.field}` : `${at}payload`;
        if (unsafe.tooLarge) throw unsafeInputError({ ...unsafe, field }, field);
        details.push({ field, message: unsafe.message });
        continue;
      }
      const payloadBytes = Buffer.byteLength(JSON.stringify(request.payload));
      if (payloadBytes > definition.defaults.maxPayloadBytes) {
        throw new DomainError(
          'too_large',
          'PAYLOAD_TOO_LARGE',
          `The payload of ${definition.type} may be at most ${definition.defaults.maxPayloadBytes} bytes of JSON`,
          {
            details: [{ field: `${at}payload`, message: `${payloadBytes} bytes` }],
          },
        );
      }
      const payloadErrors = await this.validatePayload(definition, request.payload);
      if (payloadErrors.length > 0) {
        details.push(...payloadErrors.map((d) => ({ ...d, field: `${at}payload.${d.field}` })));
        continue;
      }
      if (request.delayMs !== undefined && request.runAt !== undefined) {
        details.push({ field: `${at}runAt`, message: 'give either delayMs or runAt, not both' });
        continue;
      }
      if (request.runAt !== undefined && parseInstant(request.runAt)! - now > MAX_DELAY_MS) {
        details.push({ field: `${at}runAt`, message: 'may be at most one year ahead, like delayMs' });
        continue;
      }
      if (request.callback) {
        const refusal = this.callbacks ? await this.callbacks.check(tenantId, request.callback.url) : 'callbacks are not delivered by this deployment';
        // Like an endpoint's URL: the whole request is refused with the guard's own code.
        if (refusal)
          throw DomainError.invalid('WEBHOOK_URL_FORBIDDEN', `The callback URL is not allowed: ${refusal}`, [{ field: `${at}callback.url`, message: refusal }]);
      }
      if (request.id) {
        if (idsSeen.has(request.id)) {
          details.push({ field: `${at}id`, message: 'the same id appears twice in this request' });
          continue;
        }
        idsSeen.add(request.id);
      }
      if (request.idempotencyKey) {
        if (keysSeen.has(request.idempotencyKey)) {
          details.push({ field: `${at}idempotencyKey`, message: 'the same idempotency key appears twice in this request' });
          continue;
        }
        keysSeen.add(request.idempotencyKey);
      }
      prepared.push(this.build(tenantId, definition, request, now, origin));
    }
    if (details.length > 0) throw validationFailed(details);
    return prepared;
  }

  private async validatePayload(definition: TaskTypeDefinition, payload: Record<string, unknown>) {
    // A payload that plainly meets its rules needs no class-validator run (errors still come from it).
    if (isPlainlyValid(definition.payload, payload)) return [];
    const instance = plainToInstance(definition.payload, payload);
    // forbidUnknownValues would reject payload classes without rules (system.noop's empty payload).
    const errors = await validate(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    return flattenValidationErrors(errors);
  }

  private build(tenantId: string, definition: TaskTypeDefinition, request: TaskRequest, now: number, origin?: TaskOrigin): PreparedTask {
    const id = uuidv7();
    // Validation ran the same parser, so a runAt that got here is one it reads.
    const runAt = request.runAt ? parseInstant(request.runAt)! : now + (request.delayMs ?? 0);
    const delay = Math.max(0, runAt - now);
    const maxAttempts = initialMaxAttempts(request.maxAttempts, definition, this.config.tasks.maxAttempts);
    const timeoutMs = request.timeoutMs ?? definition.defaults.timeoutMs ?? this.config.tasks.timeoutMs;
    const priority = request.priority ?? definition.defaults.priority;
    const expiresAt = request.expiresInMs ? new Date(now + request.expiresInMs) : null;
    const createdAt = new Date(now);

    const row = Object.assign(new TaskEntity(), {
      id,
      tenantId,
      type: definition.type,
      queue: definition.queue,
      status: delay > 0 ? 'scheduled' : 'queued',
      priority,
      payload: request.payload,
      result: null,
      error: null,
      progress: null,
      attempts: 0,
      maxAttempts,
      attemptBudget: maxAttempts,
      timeoutMs,
      idempotencyKey: request.idempotencyKey ?? null,
      clientId: request.id ?? null,
      // What a repeat of the request (same key or same client id) is compared with.
      idempotencyHash: request.idempotencyKey || request.id ? requestFingerprint(request) : null,
      tags: request.tags ?? null,
      createdAt,
      updatedAt: createdAt,
      scheduledFor: delay > 0 ? new Date(runAt) : null,
      expiresAt,
      startedAt: null,
      finishedAt: null,
      workerId: null,
      parentId: origin?.parentId ?? null,
      rootId: origin?.rootId ?? null,
      scheduleId: origin?.scheduleId ?? null,
      scheduleTick: origin?.scheduleTick ?? null,
      onFailure: null,
      pipeline: origin?.pipeline ?? null,
      callbackUrl: request.callback?.url ?? null,
      traceId: activeTraceId(),
    } satisfies TaskEntity);

    return { row, job: jobForTask(row, now) };
  }
}
