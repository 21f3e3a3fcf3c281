import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { TaskContractsModule, TaskTypeRegistry } from '@conveyor/tasks';
import { WebhooksCoreModule } from '../webhooks-core.module';
import { WEBHOOK_TASK_TYPES, WEBHOOKS_QUEUE } from '../webhooks.contract';
import { AnnounceHandler } from './announce.handler';
import { AttemptLog } from './attempt-log';
import { DeliveryAttempts } from './delivery-attempts';
import { DeliveryDispatcher } from './delivery-dispatcher';
import { EndpointSlots } from './endpoint-slots';
import { SecretResealer } from './secret-resealer';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookRetention } from './webhook-retention.service';

/**
 * The worker side: the dispatcher and the `webhooks` queue's consumer (both off when WORKER_QUEUES
 * leaves it out), the log's retention, the secrets' reseal pass, and the `webhook.announce` pipeline step's handler.
 */
@Module({
  imports: [WebhooksCoreModule, BullModule.registerQueue({ name: WEBHOOKS_QUEUE }), TaskContractsModule.forFeature(WEBHOOK_TASK_TYPES)],
  providers: [
    // WORKER_QUEUES may name `webhooks` (a deployment that only delivers webhooks).
    { provide: 'webhooks:own-queue', inject: [TaskTypeRegistry], useFactory: (registry: TaskTypeRegistry) => registry.registerOwnQueue(WEBHOOKS_QUEUE) },
    DeliveryDispatcher,
    DeliveryAttempts,
    AttemptLog,
    EndpointSlots,
    WebhookDeliveryProcessor,
    WebhookRetention,
    SecretResealer,
    AnnounceHandler,
  ],
  exports: [DeliveryDispatcher, DeliveryAttempts, WebhookRetention, SecretResealer],
})
export class WebhooksWorkerModule {}
