export * from './health-worker.module';
