'use strict';
/**
 * The BullMQ job the baselines add: the same name, data shape and options Conveyor's producer
 * gives a `system.noop` task (libs/tasks/src/task-job.ts with the noop contract's defaults),
 * so Redis does the same work for both and the ratio measures Conveyor's own overhead.
 */
const QUEUE = 'system';
const NAME = 'system.noop';

function jobData(payload = {}) {
  return { tenantId: 'default', payload, timeoutMs: 300_000 };
}

function jobOptions(jobId) {
  return {
    jobId,
    priority: 5,
    delay: 0,
    attempts: 1,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 5000 },
  };
}

module.exports = { QUEUE, NAME, jobData, jobOptions };
