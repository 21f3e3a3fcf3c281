export * from './export-create.handler';
export * from './export-retention.service';
export * from './exports-worker.module';
