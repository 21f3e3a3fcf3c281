// The processing side of the webhooks lib; imported by the worker app only.
export * from './delivery-attempts';
export * from './delivery-dispatcher';
export * from './secret-resealer';
export * from './webhook-delivery.processor';
export * from './webhook-retention.service';
export * from './webhooks-worker.module';
