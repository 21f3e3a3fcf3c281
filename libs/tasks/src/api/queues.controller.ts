import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { RequireScopes } from '@conveyor/http';
import { QueueInspector } from './queue-inspector.service';
import { QueueListView } from './queue-view.dto';

@Controller('v1/queues')
@RequireScopes('tasks:read')
export class QueuesController {
  constructor(private readonly inspector: QueueInspector) {}

  @Get()
  @ApiOperation({ operationId: 'listQueues' })
  @ApiResponse({ status: 200, type: QueueListView })
  async list(): Promise<QueueListView> {
    return { queues: await this.inspector.describeAll() };
  }
}
