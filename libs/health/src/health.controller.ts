import { Controller, Get } from '@nestjs/common';
import { HealthCheck } from '@nestjs/terminus';
import { ReadinessService } from './readiness.service';

/** API probes: liveness never touches dependencies; readiness checks the database and Redis. */
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('live')
  live() {
    return this.readiness.live();
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.readiness.check();
  }
}
