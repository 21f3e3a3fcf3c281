export * from './file-cleaning-worker.module';
