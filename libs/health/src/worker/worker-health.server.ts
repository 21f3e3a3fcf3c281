import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { register } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskMetrics } from '@conveyor/observability';
import { ConcurrencyAutoscaler, consumeStatus, TaskStateWriter, TaskWorkerHost, WorkerRecycler } from '@conveyor/tasks/worker';
import { ReadinessService } from '../readiness.service';
import { EventLoopMonitor } from './event-loop-monitor';

/**
 * The worker has no HTTP app (it is an application context), so this small server gives it
 * `/health/live`, `/health/ready` and `/metrics` on WORKER_HEALTH_PORT for probes and scrapes.
 */
@Injectable()
export class WorkerHealthServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerHealthServer.name);
  private server?: Server;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly readiness: ReadinessService,
    private readonly host: TaskWorkerHost,
    private readonly writer: TaskStateWriter,
    private readonly eventLoop: EventLoopMonitor,
    private readonly metrics: TaskMetrics,
    private readonly autoscaler: ConcurrencyAutoscaler,
    private readonly recycler: WorkerRecycler,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.server = createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.worker.healthPort, '0.0.0.0', () => resolve());
    });
    const address = this.server.address();
    this.logger.log({ port: typeof address === 'object' && address ? address.port : address }, 'health server listening');
  }

  /**
   * Readiness turns false as soon as shutdown starts, so traffic and scrapers move on. A recent
   * event-loop stall (EventLoopMonitor) shows in the body with its length but does not fail the
   * probe: the loop is free again by the time the probe is answered, and a busy node's GC pause
   * must not take a healthy worker out of rotation for a minute.
   */
  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET') return this.send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } });
      if (path === '/health/live') {
        return this.send(res, 200, { ...this.readiness.live(), workerId: this.config.worker.id });
      }
      if (path === '/health/ready') return await this.ready(res);
      if (path === '/metrics') {
        for (const queue of consumeStatus(this.host.runningWorkers)) this.metrics.consuming(queue.queue, queue.canConsume);
        for (const worker of this.host.runningWorkers) this.metrics.concurrency(worker.name, worker.concurrency);
        res.writeHead(200, { 'content-type': register.contentType });
        res.end(await register.metrics());
        return;
      }
      this.send(res, 404, { error: { code: 'NOT_FOUND', message: 'unknown path' } });
    } catch (error) {
      this.logger.error({ err: error, path }, 'health endpoint failed');
      this.send(res, 500, { error: { code: 'INTERNAL_ERROR', message: 'health endpoint failed' } });
    }
  }

  /**
   * 503 while stopping, when a consumed queue cannot be consumed (its BullMQ Worker stopped or
   * its blocking Redis connection down) or a dependency is down. `degraded` (still 200) when the
   * ledger writer lags: more uncommitted changes than WORKER_WRITE_BEHIND_MAX (completions then
   * wait for their commit), or flushes failing. Every problem is listed in `worker.reasons`.
   */
  private async ready(res: ServerResponse): Promise<void> {
    const consume = consumeStatus(this.host.runningWorkers);
    const backlog = this.writer.backlog;
    const { writeBehindMax } = this.config.worker;
    const failing = this.writer.failingFlushes;
    const down = [
      ...(this.stopping ? [this.recycler.recycling ? `recycling: ${this.recycler.recycling}` : 'shutting down'] : []),
      ...consume.filter((queue) => !queue.canConsume).map((queue) => `queue ${queue.queue} cannot be consumed: ${queue.reason}`),
    ];
    const degraded = [
      ...(writeBehindMax > 0 && backlog > writeBehindMax
        ? [`ledger backlog ${backlog} is over WORKER_WRITE_BEHIND_MAX (${writeBehindMax}): completions wait for their commit`]
        : []),
      ...(failing > 0 ? [`ledger writes failing (${failing} in a row); changes kept and retried`] : []),
      ...(this.eventLoop.status().status === 'degraded' ? ['the event loop was blocked recently'] : []),
    ];
    const worker = {
      workerId: this.config.worker.id,
      status: down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'ok',
      reasons: [...down, ...degraded],
      queues: this.host.queues,
      running: down.length === 0,
      consume,
      ledger: { backlog, writeBehindMax, failingFlushes: failing },
      ledgerBacklog: backlog,
      eventLoop: this.eventLoop.status(),
      // Per queue: the concurrency now, its configured range and who sets it (README "Operating queues").
      concurrency: this.autoscaler.status(),
    };
    if (down.length > 0) return this.send(res, 503, { status: 'error', worker });
    try {
      const result = await this.readiness.check();
      this.send(res, 200, { ...result, worker });
    } catch (error) {
      // Terminus rejects with a 503 exception whose response is the full check result.
      const details = (error as { getResponse?: () => unknown }).getResponse?.();
      this.send(res, 503, { status: 'error', details, worker: { ...worker, status: 'down' } });
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }
}
