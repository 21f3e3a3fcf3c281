import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import { Public } from '@conveyor/http';

/**
 * `/metrics` without an API key, for Prometheus scrapes from inside the cluster. It exposes
 * counts and timings, no payloads; keep it off the public ingress.
 */
@Public()
@Controller()
export class MetricsController extends PrometheusController {
  // Redeclared only to describe it in the OpenAPI document.
  @Get()
  @ApiOperation({ operationId: 'getMetrics', summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, content: { 'text/plain': { schema: { type: 'string', example: 'conveyor_tasks_enqueued_total{type="system.sleep"} 3' } } } })
  override index(@Res({ passthrough: true }) response: unknown): Promise<string> {
    return super.index(response);
  }
}
