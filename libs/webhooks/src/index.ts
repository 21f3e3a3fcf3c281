// The webhooks lib's core: endpoints, the outbox hook, the SSRF guard and signing. The HTTP side
// is `@conveyor/webhooks/api`, the delivery side `@conveyor/webhooks/worker`.
export * from './delivery/retry-schedule';
export * from './delivery/webhook-sender';
export * from './endpoints/callback-endpoints.service';
export * from './endpoints/webhook-deliveries.service';
export * from './endpoints/webhook-endpoints.service';
export * from './events/event-match';
export * from './events/flow-node-counts';
export * from './events/outbox-rows';
export * from './events/subscription-cache';
export * from './events/task-event-recorder';
export * from './security/url-guard';
export * from './signing/endpoint-secrets';
export * from './signing/secret-key-check';
export * from './signing/secret-sealer';
export * from './signing/webhook-signature';
export * from './store/webhook-attempt.entity';
export * from './store/webhook-delivery.entity';
export * from './store/webhook-endpoint.entity';
export * from './store/webhook-event.entity';
export * from './webhook-clock';
export * from './webhooks-core.module';
export * from './webhooks.contract';
