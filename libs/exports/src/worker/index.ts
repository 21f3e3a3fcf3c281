export * from './export-retention.service';
export * from './exports-worker.module';
