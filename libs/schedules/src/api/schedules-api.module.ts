import { Module } from '@nestjs/common';
import { SchedulesCoreModule } from '../schedules-core.module';
import { SchedulesController } from './schedules.controller';

/** The HTTP schedules API; the runner runs in this process only with SCHEDULER_ENABLED=true. */
@Module({
  imports: [SchedulesCoreModule.forApp({ runByDefault: false })],
  controllers: [SchedulesController],
})
export class SchedulesApiModule {}
