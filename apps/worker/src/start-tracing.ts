import { loadEnvFile } from '@conveyor/config';
import { startTracing } from '@conveyor/observability/tracing';

// Imported first by main.ts: the instrumentations patch http, pg, mysql2 and ioredis as they
// load, so tracing starts before anything else, with the OTEL_* settings of .env. Off unless
// OTEL_* asks.
loadEnvFile();
startTracing('conveyor-worker');
