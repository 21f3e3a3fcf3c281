import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { WebhooksCoreModule } from '../webhooks-core.module';
import { WEBHOOK_TASK_TYPES } from '../webhooks.contract';
import { WebhookCallbacksController } from './webhook-callbacks.controller';
import { WebhookDeliveriesController } from './webhook-deliveries.controller';
import { WebhookEndpointsController } from './webhook-endpoints.controller';

/** The HTTP webhooks API: endpoints, the delivery log, redelivery, test pings, the callback secret. Deliveries run in the worker. */
@Module({
  imports: [WebhooksCoreModule, TaskContractsModule.forFeature(WEBHOOK_TASK_TYPES)],
  controllers: [WebhookEndpointsController, WebhookDeliveriesController, WebhookCallbacksController],
})
export class WebhooksApiModule {}
