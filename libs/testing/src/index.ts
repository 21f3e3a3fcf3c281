export * from './app-process';
export * from './test-infra';
