export * from './system-tasks-api.module';
