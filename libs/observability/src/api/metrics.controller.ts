import { Controller } from '@nestjs/common';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import { Public } from '@conveyor/http';

/**
 * `/metrics` without an API key, for Prometheus scrapes from inside the cluster. It exposes
 * counts and timings, no payloads; keep it off the public ingress.
 */
@Public()
@Controller()
export class MetricsController extends PrometheusController {}
