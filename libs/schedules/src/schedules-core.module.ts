import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeclaredSchedules } from './engine/declared-schedules';
import { SCHEDULER_DEFAULT_ENABLED, ScheduleRunner } from './engine/schedule-runner';
import { ScheduleDefinitions } from './schedule-definitions';
import { ScheduleEntity } from './schedule.entity';
import { ScheduleStore } from './schedule-store';
import { SchedulesService } from './schedules.service';
import { CLOCK, systemClock } from './timing/clock';

/**
 * Schedules on top of the tasks core: the store, the service the API uses, and the runner that
 * fires ticks. The runner lives here, not in the worker entry point, because any process may
 * run it (SCHEDULER_ENABLED); `runByDefault` is the app's choice when the key is unset.
 */
@Module({})
export class SchedulesCoreModule {
  static forApp(options: { runByDefault: boolean }): DynamicModule {
    return {
      module: SchedulesCoreModule,
      imports: [TypeOrmModule.forFeature([ScheduleEntity])],
      providers: [
        ScheduleStore,
        ScheduleDefinitions,
        SchedulesService,
        DeclaredSchedules,
        ScheduleRunner,
        { provide: CLOCK, useValue: systemClock },
        { provide: SCHEDULER_DEFAULT_ENABLED, useValue: options.runByDefault },
      ],
      exports: [SchedulesService, ScheduleRunner, DeclaredSchedules, ScheduleStore, CLOCK],
    };
  }
}
