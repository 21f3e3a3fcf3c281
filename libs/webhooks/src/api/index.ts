// The HTTP side of the webhooks lib; imported by the API app only.
export * from './webhook-endpoint.dto';
export * from './webhook-views.dto';
export * from './webhooks-api.module';
