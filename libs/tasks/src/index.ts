// The shared core of the tasks lib: contracts, the ledger and the contracts registry.
// The HTTP side is `@conveyor/tasks/api`, the processing side `@conveyor/tasks/worker`.
export * from './contracts/payload-schema';
export * from './contracts/task-failure';
export * from './contracts/task-handler';
export * from './contracts/task-type';
export * from './contracts/task-type.registry';
export * from './flows/commit-effects';
export * from './flows/commit-effects.relay';
export * from './flows/flow-settler';
export * from './intake/instant';
export * from './intake/job-relay';
export * from './intake/request-fingerprint';
export * from './intake/task-factory';
export * from './intake/task-request';
export * from './ledger/flow-policy';
export * from './ledger/task-ledger.service';
export * from './ledger/task-status';
export * from './ledger/task.entity';
export * from './pipeline/pipeline';
export * from './task-cancellation';
export * from './task-change-feed';
export * from './task-contracts.module';
export * from './task-job';
export * from './tasks-core.module';
