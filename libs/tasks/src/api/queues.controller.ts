import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { RequireScopes, validationFailed } from '@conveyor/http';
import { QueueSettingsStore } from '../queue-settings/queue-settings.store';
import { QueueDetailView, UpdateQueueDto } from './queue.dto';
import { QueueInspector } from './queue-inspector.service';
import { QueueListView } from './queue-view.dto';

const NOT_FOUND = { status: 404, description: 'QUEUE_NOT_FOUND: no task type uses this queue' };

/** Queues: depth and settings for readers; pause, resume and runtime settings for admins. */
@Controller('v1/queues')
@RequireScopes('tasks:read')
export class QueuesController {
  constructor(
    private readonly inspector: QueueInspector,
    private readonly settings: QueueSettingsStore,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'listQueues' })
  @ApiResponse({ status: 200, type: QueueListView })
  async list(): Promise<QueueListView> {
    return { queues: await this.inspector.describeAll() };
  }

  @Get(':name')
  @ApiOperation({ operationId: 'getQueue' })
  @ApiResponse({ status: 200, type: QueueDetailView, description: 'Depth per state, pause, stored settings, and what each live worker applied' })
  @ApiResponse(NOT_FOUND)
  getQueue(@Param('name') name: string): Promise<QueueDetailView> {
    return this.inspector.describe(name);
  }

  /** Workers take no new task of the queue (running ones finish) until it is resumed; kept in Redis. */
  @Post(':name/pause')
  @RequireScopes('admin')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ operationId: 'pauseQueue' })
  @ApiResponse({ status: 200, type: QueueDetailView, description: 'Paused for every worker' })
  @ApiResponse(NOT_FOUND)
  pauseQueue(@Param('name') name: string): Promise<QueueDetailView> {
    return this.setPaused(name, true);
  }

  @Post(':name/resume')
  @RequireScopes('admin')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ operationId: 'resumeQueue' })
  @ApiResponse({ status: 200, type: QueueDetailView, description: 'Resumed: workers take its tasks again' })
  @ApiResponse(NOT_FOUND)
  resumeQueue(@Param('name') name: string): Promise<QueueDetailView> {
    return this.setPaused(name, false);
  }

  /** Stored, applied by every worker within seconds (at once when they hear of it), and used by workers started later. */
  @Patch(':name')
  @RequireScopes('admin')
  @ApiOperation({ operationId: 'updateQueue' })
  @ApiResponse({ status: 200, type: QueueDetailView, description: 'Stored and announced; `workerSettings` shows each worker once it applied it' })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED: concurrency outside 1 … 1000, a malformed rate limit, or nothing to change' })
  @ApiResponse(NOT_FOUND)
  async updateQueue(@Param('name') name: string, @Body() body: UpdateQueueDto): Promise<QueueDetailView> {
    this.inspector.requireKnown(name);
    if (body.concurrency === undefined && body.rateLimit === undefined) {
      throw validationFailed([{ field: 'concurrency', message: 'give concurrency, rateLimit or both' }]);
    }
    await this.inspector.available(() => this.settings.update(name, body));
    return this.inspector.describe(name);
  }

  private async setPaused(name: string, paused: boolean): Promise<QueueDetailView> {
    this.inspector.requireKnown(name);
    await this.inspector.available(() => this.settings.setPaused(name, paused));
    return this.inspector.describe(name);
  }
}
