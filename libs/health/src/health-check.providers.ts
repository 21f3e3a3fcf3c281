import { ReadinessService } from './readiness.service';
import { RedisHealthIndicator } from './redis.health';

/** The dependency checks both apps' probe modules provide. */
export const HEALTH_CHECK_PROVIDERS = [RedisHealthIndicator, ReadinessService];
