export * from './system-tasks-worker.module';
