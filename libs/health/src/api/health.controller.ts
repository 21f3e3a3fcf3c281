import { Controller, Get, HttpException, HttpStatus, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '@conveyor/http';
import { ReadinessService } from '../readiness.service';
import { LivenessView, ReadinessView } from './health-view.dto';

/** API probes: liveness never touches dependencies; readiness checks the database and Redis. */
@Controller('health')
@Public()
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('live')
  @ApiOperation({ operationId: 'getLiveness' })
  @ApiResponse({ status: 200, type: LivenessView })
  live() {
    return this.readiness.live();
  }

  /** 503 with the full check result when a dependency is down (not the generic error body). */
  @Get('ready')
  @ApiOperation({ operationId: 'getReadiness' })
  @ApiResponse({ status: 200, type: ReadinessView })
  @ApiResponse({ status: 503, type: ReadinessView, description: 'A dependency is down' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.readiness.check();
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      void reply.status(HttpStatus.SERVICE_UNAVAILABLE);
      return error.getResponse();
    }
  }
}
