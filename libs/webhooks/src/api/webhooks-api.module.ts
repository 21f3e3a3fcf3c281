import { Module } from '@nestjs/common';
import { WebhooksCoreModule } from '../webhooks-core.module';
import { WebhookDeliveriesController } from './webhook-deliveries.controller';
import { WebhookEndpointsController } from './webhook-endpoints.controller';

/** The HTTP webhooks API: endpoints, the delivery log, redelivery, test pings. Deliveries run in the worker. */
@Module({
  imports: [WebhooksCoreModule],
  controllers: [WebhookEndpointsController, WebhookDeliveriesController],
})
export class WebhooksApiModule {}
