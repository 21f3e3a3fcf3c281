import { startTracing } from '@conveyor/observability/tracing';

// Imported by main.ts right after the .env file is read and before anything else: the
// instrumentations patch http, pg, mysql2 and ioredis as they load. Off unless OTEL_* asks.
startTracing('conveyor-worker');
