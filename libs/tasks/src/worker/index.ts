// The processing side of the tasks lib; imported by the worker app only.
export * from './task-runner';
export * from './task-state-writer';
export * from './task-worker.host';
export * from './tasks-worker.module';
