import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HEALTH_CHECK_PROVIDERS } from '../health-check.providers';
import { HealthController } from './health.controller';

/** The API's probes: `/health/live` and `/health/ready` as HTTP routes. */
@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [...HEALTH_CHECK_PROVIDERS] })
export class HealthApiModule {}
