import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { RequireScopes } from '@conveyor/http';
import { payloadJsonSchema } from '../contracts/payload-schema';
import { TaskTypeRegistry } from '../contracts/task-type.registry';

@Controller('v1/task-types')
@RequireScopes('tasks:read')
export class TaskTypesController {
  private cached?: unknown;

  constructor(
    private readonly registry: TaskTypeRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Contracts are fixed for the life of the process, so the answer is built once. System-only types are not listed: no tenant may create them. */
  @Get()
  @ApiOperation({ operationId: 'listTaskTypes' })
  list() {
    this.cached ??= {
      taskTypes: this.registry
        .all()
        .filter((definition) => !definition.systemOnly)
        .map((definition) => ({
          type: definition.type,
          queue: definition.queue,
          description: definition.description,
          defaults: {
            priority: definition.defaults.priority,
            maxAttempts: definition.defaults.maxAttempts ?? this.config.tasks.maxAttempts,
            timeoutMs: definition.defaults.timeoutMs ?? this.config.tasks.timeoutMs,
            backoff: definition.defaults.backoff,
            maxPayloadBytes: definition.defaults.maxPayloadBytes,
          },
          payloadSchema: payloadJsonSchema(definition),
          // Whether it may run as a `then` step (and which payload fields the pipeline fills), and what it hands on.
          pipeline: {
            step: definition.pipeline.takes !== undefined,
            takes: definition.pipeline.takes ?? {},
            handsOn: Object.keys(definition.pipeline.handsOn ?? {}),
          },
        })),
    };
    return this.cached;
  }
}
