import { Controller, Get } from '@nestjs/common';
import { QueueInspector } from './queue-inspector.service';

@Controller('v1/queues')
export class QueuesController {
  constructor(private readonly inspector: QueueInspector) {}

  @Get()
  async list() {
    return { queues: await this.inspector.describeAll() };
  }
}
