import { loadEnvFile } from '@conveyor/config';

// Imported first by main.ts: contract files read env (QUEUE_NAME) when they are loaded, so
// `.env` must be in process.env before any module is imported.
loadEnvFile();
