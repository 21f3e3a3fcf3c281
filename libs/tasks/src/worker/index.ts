// The processing side of the tasks lib; imported by the worker app only.
export * from '../flows/flow-sweeper';
export * from '../task-logs/task-log-writer';
export * from './maintenance/task-maintenance.module';
export * from './maintenance/task-reconciler.service';
export * from './maintenance/task-retention.service';
export * from './autoscale/autoscale-decision';
export * from './autoscale/concurrency-autoscaler';
export * from './completed-job-retention';
export * from './consume-status';
export * from './ledger-writer.module';
export * from './queue-settings.applier';
export * from './task-runner';
export * from './task-state-writer';
export * from './task-worker.host';
export * from './tasks-worker.module';
export * from './worker-recycler';
export * from '../fairness/tenant-slots';
