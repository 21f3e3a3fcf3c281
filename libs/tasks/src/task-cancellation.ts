/**
 * Cancelling a running task crosses processes: the API publishes the task id on this Redis
 * channel and every worker checks whether it runs that task. One channel per queue prefix, so
 * deployments sharing a Redis do not cancel each other's tasks.
 */
export function cancellationChannel(queuePrefix: string): string {
  return `${queuePrefix}:conveyor:cancel`;
}

/** The reason BullMQ hands to the aborted processor when a task is cancelled. */
export const CANCEL_REASON = 'cancelled';
