import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TasksWorkerModule } from '@conveyor/tasks';
import { HealthController } from './health.controller';
import { ReadinessService } from './readiness.service';
import { RedisHealthIndicator } from './redis.health';
import { WorkerHealthServer } from './worker-health.server';

const shared = [RedisHealthIndicator, ReadinessService];

/** Probes: `forApi()` adds the HTTP controller, `forWorker()` the worker's own small server. */
@Module({})
export class HealthModule {
  static forApi(): DynamicModule {
    return { module: HealthModule, imports: [TerminusModule], controllers: [HealthController], providers: shared };
  }

  static forWorker(): DynamicModule {
    return { module: HealthModule, imports: [TerminusModule, TasksWorkerModule], providers: [...shared, WorkerHealthServer] };
  }
}
