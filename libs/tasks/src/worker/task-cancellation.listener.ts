import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from '@conveyor/queue';
import { cancellationChannel, CANCEL_REASON } from '../task-cancellation';
import { TaskWorkerHost } from './task-worker.host';

/**
 * Listens for cancellations published by the API and aborts the task if it runs here. A
 * subscriber needs its own Redis connection; ioredis re-subscribes after a reconnect.
 */
@Injectable()
export class TaskCancellationListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TaskCancellationListener.name);
  private subscriber?: Redis;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly host: TaskWorkerHost,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const channel = cancellationChannel(this.config.queuePrefix);
    this.subscriber = new Redis({ ...redisConnectionOptions(this.config.redis, 'worker'), connectionName: 'conveyor:cancellations' });
    this.subscriber.on('error', (error) => this.logger.warn({ err: error }, 'cancellation listener: redis error'));
    this.subscriber.on('message', (_channel, taskId) => {
      if (this.host.cancel(taskId, CANCEL_REASON)) this.logger.log({ taskId }, 'cancelling running task');
    });
    await this.subscriber.subscribe(channel);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => undefined);
  }
}
