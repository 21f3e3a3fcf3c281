import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from './redis-connection';

/** BullMQ root: one Redis connection config and key prefix for every queue in the process. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: redisConnectionOptions(config.redis, 'producer'),
        prefix: config.queuePrefix,
      }),
    }),
  ],
  exports: [BullModule],
})
export class QueueModule {}
