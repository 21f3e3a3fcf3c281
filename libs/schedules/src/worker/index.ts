// The processing side of the schedules lib; imported by the worker app only.
export * from './schedules-worker.module';
