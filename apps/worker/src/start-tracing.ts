import { loadEnvFile } from '@conveyor/config';
import { startTracing } from '@conveyor/observability/tracing';

// Imported first by main.ts: loads .env for the whole process (main.ts does not again), then
// starts tracing before anything else loads, since the instrumentations patch http, pg, mysql2
// and ioredis as they load. Off unless OTEL_* asks.
loadEnvFile();
startTracing('conveyor-worker');
