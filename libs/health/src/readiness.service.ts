import { Injectable } from '@nestjs/common';
import { HealthCheckService, TypeOrmHealthIndicator, type HealthIndicatorFunction } from '@nestjs/terminus';
import { RedisHealthIndicator } from './redis.health';

/** The dependency checks both apps' readiness shares: the ledger database and Redis. */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** Resolves with the Terminus result; rejects with a ServiceUnavailableException when a check is down. */
  check(extra: HealthIndicatorFunction[] = []) {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 1500 }), () => this.redis.pingCheck('redis'), ...extra]);
  }

  live() {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()), pid: process.pid };
  }
}
