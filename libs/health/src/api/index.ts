export * from './health-api.module';
