import { Controller, Get } from '@nestjs/common';
import { RequireScopes } from '@conveyor/http';
import { QueueInspector } from './queue-inspector.service';

@Controller('v1/queues')
@RequireScopes('tasks:read')
export class QueuesController {
  constructor(private readonly inspector: QueueInspector) {}

  @Get()
  async list() {
    return { queues: await this.inspector.describeAll() };
  }
}
