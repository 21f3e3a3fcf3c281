export * from './app-process';
export * from './private-redis';
export * from './private-postgres';
export * from './test-infra';
export * from './private-mariadb';
export * from './test-receiver';
export * from './task-rows';
export * from './in-process-api';
