import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { WebhooksCoreModule } from '../webhooks-core.module';
import { WEBHOOKS_QUEUE } from '../webhooks.contract';
import { DeliveryAttempts } from './delivery-attempts';
import { DeliveryDispatcher } from './delivery-dispatcher';
import { EndpointSlots } from './endpoint-slots';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';

/** The worker side: the dispatcher and the `webhooks` queue's consumer (both off when WORKER_QUEUES leaves it out). */
@Module({
  imports: [WebhooksCoreModule, BullModule.registerQueue({ name: WEBHOOKS_QUEUE })],
  providers: [DeliveryDispatcher, DeliveryAttempts, EndpointSlots, WebhookDeliveryProcessor],
  exports: [DeliveryDispatcher, DeliveryAttempts],
})
export class WebhooksWorkerModule {}
