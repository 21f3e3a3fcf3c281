import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TasksWorkerModule } from '@conveyor/tasks/worker';
import { HEALTH_CHECK_PROVIDERS } from '../health-check.providers';
import { EventLoopMonitor } from './event-loop-monitor';
import { WorkerHealthServer } from './worker-health.server';

/** The worker's probes and metrics, served by its own small HTTP server. */
@Module({ imports: [TerminusModule, TasksWorkerModule], providers: [...HEALTH_CHECK_PROVIDERS, EventLoopMonitor, WorkerHealthServer] })
export class HealthWorkerModule {}
