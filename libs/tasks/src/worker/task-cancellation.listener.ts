import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';
import { cancellationChannel, CANCEL_REASON } from '../task-cancellation';
import { TaskWorkerHost } from './task-worker.host';

/**
 * Listens for cancellations published by the API and aborts the task if it runs here. A
 * subscriber needs its own Redis connection; ioredis re-subscribes after a reconnect.
 */
@Injectable()
export class TaskCancellationListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TaskCancellationListener.name);
  private subscriber?: RedisClient;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly host: TaskWorkerHost,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const channel = cancellationChannel(this.config.queuePrefix);
    this.subscriber = createRedisClient(this.config.redis, 'worker', { connectionName: 'conveyor:cancellations' });
    this.subscriber.on('error', (error: Error) => this.logger.warn({ err: error }, 'cancellation listener: redis error'));
    this.subscriber.on('message', (_channel: string, taskId: string) => {
      if (this.host.cancel(taskId, CANCEL_REASON)) this.logger.log({ taskId }, 'cancelling running task');
    });
    await this.subscriber.subscribe(channel);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => undefined);
  }
}
