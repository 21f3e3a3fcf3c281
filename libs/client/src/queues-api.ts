import type { Transport } from './transport.js';

export interface QueueRateLimit {
  max: number;
  durationMs: number;
}

/** A queue as Redis sees it now. */
export interface QueueView {
  name: string;
  paused: boolean;
  /** Workers connected to it now. */
  workers: number;
  /** Jobs per BullMQ state (waiting, active, delayed, prioritized, failed, …). */
  counts: Record<string, number>;
  /** The task types it runs. */
  taskTypes: string[];
}

/** `GET /v1/queues/:name`: depth, pause, and the settings stored and applied per worker. */
export interface QueueDetail extends QueueView {
  settings: { concurrency: number | null; rateLimit: QueueRateLimit | null; version: number; updatedAt: string | null };
  workerSettings: Array<{ workerId: string; concurrency: number; rateLimit: QueueRateLimit | null; version: number; reportedAt: string }>;
}

/** `PATCH /v1/queues/:name`: a field left out stays, `null` removes the override. */
export interface QueueChange {
  /** Tasks each worker runs at once from this queue (1 … 1000); null: back to WORKER_CONCURRENCY. */
  concurrency?: number | null;
  rateLimit?: QueueRateLimit | null;
}

const queuePath = (name: string) => `/v1/queues/${encodeURIComponent(name)}`;

/** `client.queues`: read with any key; pause, resume and change need an admin key. */
export class QueuesApi {
  constructor(private readonly transport: Transport) {}

  async list(): Promise<QueueView[]> {
    return (await this.transport.request<{ queues: QueueView[] }>('GET', '/v1/queues', { idempotent: true })).body.queues;
  }

  async get(name: string): Promise<QueueDetail> {
    return (await this.transport.request<QueueDetail>('GET', queuePath(name), { idempotent: true })).body;
  }

  /** Workers take no new task of it (running ones finish) until resumed. */
  async pause(name: string): Promise<QueueDetail> {
    return (await this.transport.request<QueueDetail>('POST', `${queuePath(name)}/pause`, { idempotent: true })).body;
  }

  async resume(name: string): Promise<QueueDetail> {
    return (await this.transport.request<QueueDetail>('POST', `${queuePath(name)}/resume`, { idempotent: true })).body;
  }

  /** Stored and applied by every worker within seconds; `workerSettings` shows who applied it. */
  async update(name: string, change: QueueChange): Promise<QueueDetail> {
    return (await this.transport.request<QueueDetail>('PATCH', queuePath(name), { body: change, idempotent: true })).body;
  }
}
