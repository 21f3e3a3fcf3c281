// Shared readiness checks. Probe modules: `@conveyor/health/api` and `@conveyor/health/worker`.
export * from './bounded-shutdown';
export * from './health-check.providers';
export * from './idle-heap-compaction';
export * from './readiness.service';
export * from './redis.health';
export * from './wait-for-dependencies';
