import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, Worker, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { inConsumerSpan } from '@conveyor/observability';
import { redisConnectionOptions } from '@conveyor/queue';
import { WEBHOOKS_QUEUE, type DeliveryJobData } from '../webhooks.contract';
import { DeliveryAttempts, type AttemptResult } from './delivery-attempts';
import { consumesWebhooks, DeliveryDispatcher } from './delivery-dispatcher';
import { EndpointSlots } from './endpoint-slots';

/** Default worker concurrency of the webhooks queue: deliveries mostly wait on the network. */
const DEFAULT_CONCURRENCY = 50;

/**
 * Consumes the `webhooks` queue: each job is one attempt. An endpoint at its concurrency limit
 * sends the job back for a moment (no attempt counted) instead of holding a worker slot.
 */
@Injectable()
export class WebhookDeliveryProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryProcessor.name);
  private worker: Worker<DeliveryJobData> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly attempts: DeliveryAttempts,
    private readonly slots: EndpointSlots,
    private readonly dispatcher: DeliveryDispatcher,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!consumesWebhooks(this.config)) return;
    const concurrency = this.config.worker.concurrency[WEBHOOKS_QUEUE] ?? DEFAULT_CONCURRENCY;
    this.worker = new Worker<DeliveryJobData>(WEBHOOKS_QUEUE, (job, token) => this.process(job, token), {
      connection: redisConnectionOptions(this.config.redis, 'worker'),
      prefix: this.config.queuePrefix,
      concurrency,
      name: this.config.worker.id,
      // As for task queues: a dead worker's attempts are taken over (same claim) once its lock lapses.
      lockDuration: this.config.worker.lockDurationMs,
      stalledInterval: this.config.worker.stalledIntervalMs,
    });
    this.worker.on('error', (error) => this.logger.error({ err: error }, 'webhooks worker error'));
    await this.worker.waitUntilReady();
    this.logger.log({ queue: WEBHOOKS_QUEUE, concurrency }, 'consuming queue');
  }

  async beforeApplicationShutdown(): Promise<void> {
    // An attempt cut short is made again after its lease: at-least-once, like every delivery.
    await this.worker?.close();
  }

  async process(job: Job<DeliveryJobData>, token?: string): Promise<AttemptResult> {
    const { deliveryId, endpointId, claim } = job.data;
    const release = await this.slots.acquire(endpointId);
    if (!release) {
      // Back in a moment, spread out so the waiting jobs of a busy endpoint do not all retry at once.
      await job.moveToDelayed(Date.now() + 100 + Math.floor(Math.random() * 400), token);
      throw new DelayedError();
    }
    try {
      // A trace per attempt (deliveries are claimed by a poller, outside any task's trace); the
      // HTTP call to the endpoint is its child span.
      const attributes = () => ({ 'conveyor.webhook.delivery_id': deliveryId, 'conveyor.webhook.endpoint_id': endpointId });
      return await inConsumerSpan('deliver webhook', undefined, attributes, () => this.attempts.attempt(deliveryId, claim, this.dispatcher.leaseMs));
    } finally {
      await release();
    }
  }
}
