export * from './http-metrics';
export * from './logger.module';
export * from './metric-names';
export * from './metrics.module';
export * from './migration-metrics';
export * from './task-metrics';
export * from './request-id';
export * from './boot-logger';
