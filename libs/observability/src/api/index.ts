export * from './metrics-api.module';
