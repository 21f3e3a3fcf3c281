// The HTTP side of the schedules lib; imported by the API app only.
export * from './schedule.dto';
export * from './schedule-view.dto';
export * from './schedules-api.module';
