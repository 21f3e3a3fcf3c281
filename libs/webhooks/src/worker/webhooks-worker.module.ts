import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { TaskTypeRegistry } from '@conveyor/tasks';
import { WebhooksCoreModule } from '../webhooks-core.module';
import { WEBHOOKS_QUEUE } from '../webhooks.contract';
import { DeliveryAttempts } from './delivery-attempts';
import { DeliveryDispatcher } from './delivery-dispatcher';
import { EndpointSlots } from './endpoint-slots';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookRetention } from './webhook-retention.service';

/** The worker side: the dispatcher and the `webhooks` queue's consumer (both off when WORKER_QUEUES leaves it out), and the log's retention. */
@Module({
  imports: [WebhooksCoreModule, BullModule.registerQueue({ name: WEBHOOKS_QUEUE })],
  providers: [
    // WORKER_QUEUES may name `webhooks` (a deployment that only delivers webhooks).
    { provide: 'webhooks:own-queue', inject: [TaskTypeRegistry], useFactory: (registry: TaskTypeRegistry) => registry.registerOwnQueue(WEBHOOKS_QUEUE) },
    DeliveryDispatcher,
    DeliveryAttempts,
    EndpointSlots,
    WebhookDeliveryProcessor,
    WebhookRetention,
  ],
  exports: [DeliveryDispatcher, DeliveryAttempts, WebhookRetention],
})
export class WebhooksWorkerModule {}
