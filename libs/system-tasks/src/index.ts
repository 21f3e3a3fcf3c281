// The system domain's contract. Modules: `@conveyor/system-tasks/api` and `@conveyor/system-tasks/worker`.
export * from './system-tasks.contract';
