// The HTTP side of the tasks lib; imported by the API app only.
export * from './create-task.dto';
export * from './flow.dto';
export * from './flow-view.dto';
export * from './flows.service';
export * from './pipeline-planner.service';
export * from './pipeline-step.dto';
export * from './queue-inspector.service';
export * from './queue.dto';
export * from './task-control.service';
export * from './task-producer.service';
export * from './tasks.service';
// The view lives with the ledger (the worker's webhook events carry it too); re-exported for HTTP code.
export { toTaskView } from '../ledger/task-view';
export * from '../ledger/task-view.dto';
export * from '../fairness/tenant-concurrency.dto';
export * from './tasks-api.module';
export * from './api-docs';
export * from './tenant-backlog';
