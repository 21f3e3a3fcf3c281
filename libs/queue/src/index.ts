export * from './queue.module';
export * from './redis-connection';
export * from './redis-outcome';
