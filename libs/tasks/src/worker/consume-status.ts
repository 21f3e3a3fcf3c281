import type { Worker } from 'bullmq';

/** Whether one consumed queue can take jobs in this process, and if not, why. */
export interface QueueConsumeStatus {
  queue: string;
  canConsume: boolean;
  /** The BullMQ Worker's fetch loop runs (false once closed or closing). */
  running: boolean;
  /** ioredis status of the Worker's blocking connection (the one that waits for jobs): `ready` when up. */
  blockingConnection: string;
  reason?: string;
}

/** What BullMQ keeps of a Worker's blocking connection (public backend, protected client). */
interface BlockingConnectionView {
  backend?: { blockingConnection?: { _client?: { status?: string } } };
}

/**
 * "Can consume" for each BullMQ Worker of this process: its loop running and its blocking
 * Redis connection ready. A Worker whose blocking connection dropped fetches nothing until
 * ioredis reconnects, although its regular connection (and a health ping) may be fine.
 */
export function consumeStatus(workers: readonly Worker[]): QueueConsumeStatus[] {
  return workers.map((worker) => {
    const running = worker.isRunning() && !worker.closing;
    const blockingConnection = (worker as unknown as BlockingConnectionView).backend?.blockingConnection?._client?.status ?? 'none';
    const reason = !running
      ? 'its worker is not running'
      : blockingConnection !== 'ready'
        ? `its blocking Redis connection is ${blockingConnection}`
        : undefined;
    return { queue: worker.name, canConsume: reason === undefined, running, blockingConnection, ...(reason ? { reason } : {}) };
  });
}
