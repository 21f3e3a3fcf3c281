// The schedules lib's core: store, service and runner. The HTTP side is `@conveyor/schedules/api`,
// the worker's module `@conveyor/schedules/worker`.
export * from './engine/declared-schedules';
export * from './engine/schedule-runner';
export * from './engine/tick-plan';
export * from './schedule-definitions';
export * from './schedule-policy';
export * from './schedule-store';
export * from './schedule.entity';
export * from './schedules-core.module';
export * from './schedules.service';
export * from './timing/clock';
export * from './timing/schedule-timing';
