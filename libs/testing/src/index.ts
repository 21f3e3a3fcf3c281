export * from './app-process';
export * from './private-redis';
export * from './test-infra';
