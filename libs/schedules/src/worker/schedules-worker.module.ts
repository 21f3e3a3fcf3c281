import { Module } from '@nestjs/common';
import { SchedulesCoreModule } from '../schedules-core.module';

/** The worker side of schedules: the runner, on unless SCHEDULER_ENABLED=false. */
@Module({
  imports: [SchedulesCoreModule.forApp({ runByDefault: true })],
})
export class SchedulesWorkerModule {}
