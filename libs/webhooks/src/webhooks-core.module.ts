import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TASK_CALLBACK_GUARD, TASK_TRANSITION_HOOKS } from '@conveyor/tasks';
import { CallbackEndpoints } from './endpoints/callback-endpoints.service';
import { WebhookDeliveriesService } from './endpoints/webhook-deliveries.service';
import { WebhookEndpointsService } from './endpoints/webhook-endpoints.service';
import { SubscriptionCache } from './events/subscription-cache';
import { TaskEventRecorder } from './events/task-event-recorder';
import { systemResolver, UrlGuard, WEBHOOK_RESOLVER, type Resolver } from './security/url-guard';
import { EndpointSecrets } from './signing/endpoint-secrets';
import { SecretKeyCheck } from './signing/secret-key-check';
import { SecretSealer } from './signing/secret-sealer';
import { WebhookAttemptEntity } from './store/webhook-attempt.entity';
import { WebhookDeliveryEntity } from './store/webhook-delivery.entity';
import { WebhookEndpointEntity } from './store/webhook-endpoint.entity';
import { WebhookEventEntity } from './store/webhook-event.entity';
import { systemClock, WEBHOOK_CLOCK } from './webhook-clock';

/**
 * Webhooks on top of the tasks core, in the API and the worker alike: endpoints and their
 * log, the SSRF guard, the subscription cache, and the task transition hook that writes the
 * outbox, the per-task callbacks' guard, and the signing secrets' sealing (checked at boot). Global so the tasks lib's ledger writers find
 * TASK_TRANSITION_HOOKS (and its task factory TASK_CALLBACK_GUARD) without importing this lib.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEndpointEntity, WebhookEventEntity, WebhookDeliveryEntity, WebhookAttemptEntity])],
  providers: [
    { provide: WEBHOOK_CLOCK, useValue: systemClock },
    { provide: WEBHOOK_RESOLVER, useValue: systemResolver },
    {
      provide: UrlGuard,
      inject: [APP_CONFIG, WEBHOOK_RESOLVER],
      useFactory: (config: AppConfig, resolver: Resolver) => new UrlGuard(config.webhooks, resolver),
    },
    {
      provide: SecretSealer,
      inject: [APP_CONFIG],
      // Plain storage without a key only outside production (see SecretKeyCheck and the README).
      useFactory: (config: AppConfig) => new SecretSealer(config.webhooks.secretKey, config.webhooks.secretKeysOld, config.env !== 'production'),
    },
    EndpointSecrets,
    SecretKeyCheck,
    SubscriptionCache,
    TaskEventRecorder,
    { provide: TASK_TRANSITION_HOOKS, useExisting: TaskEventRecorder },
    WebhookEndpointsService,
    WebhookDeliveriesService,
    CallbackEndpoints,
    { provide: TASK_CALLBACK_GUARD, useExisting: CallbackEndpoints },
  ],
  exports: [
    WEBHOOK_CLOCK,
    WEBHOOK_RESOLVER,
    UrlGuard,
    SecretSealer,
    EndpointSecrets,
    SubscriptionCache,
    TASK_TRANSITION_HOOKS,
    TASK_CALLBACK_GUARD,
    WebhookEndpointsService,
    WebhookDeliveriesService,
    CallbackEndpoints,
  ],
})
export class WebhooksCoreModule {}
