export * from './system-tasks.contract';
export * from './system-tasks-api.module';
export * from './system-tasks-worker.module';
