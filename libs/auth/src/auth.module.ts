import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { AdminKeysController } from './admin-keys.controller';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeyService } from './api-key.service';
import { ApiThrottlerGuard } from './api-throttler.guard';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { WhoAmIController } from './whoami.controller';

@Module({ providers: [RedisThrottlerStorage], exports: [RedisThrottlerStorage] })
class RateLimitStorageModule {}

/**
 * API keys, the key admin API, and per-key rate limits. Authentication happens in a Fastify
 * hook before the body is read (ApiKeyAuthenticator.install, from main.ts); the guards then
 * run in order: check scopes, then count the request against the caller's limit.
 */
@Module({
  imports: [
    DiscoveryModule,
    RateLimitStorageModule,
    TypeOrmModule.forFeature([ApiKeyEntity]),
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [APP_CONFIG, RedisThrottlerStorage],
      useFactory: (config: AppConfig, storage: RedisThrottlerStorage) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: config.security.rateLimitPerMinute }],
        skipIf: () => config.security.rateLimitPerMinute === 0,
        storage,
        errorMessage: 'Too many requests; see Retry-After',
      }),
    }),
  ],
  controllers: [AdminKeysController, WhoAmIController],
  providers: [ApiKeyService, ApiKeyAuthenticator, { provide: APP_GUARD, useClass: ApiKeyGuard }, { provide: APP_GUARD, useClass: ApiThrottlerGuard }],
  exports: [ApiKeyService, ApiKeyAuthenticator],
})
export class AuthModule {}
