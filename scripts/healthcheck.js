'use strict';
/**
 * The image's HEALTHCHECK (also used by docker-compose.worker.yml): GET /health/ready of the
 * process MODE runs, the API on PORT, the worker on WORKER_HEALTH_PORT, both for MODE=all. Exit 0
 * when every one answers 200, else 1. Node itself, so the slim image needs no curl. Other modes
 * are one-shot commands: healthy while they run.
 */
const mode = process.env.MODE;
const apiPort = process.env.PORT || 3000;
const workerPort = process.env.WORKER_HEALTH_PORT || 3001;
const ports = { api: [apiPort], worker: [workerPort], all: [apiPort, workerPort] }[mode] || [];

async function ready(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(4000) });
    if (response.status === 200) return true;
    console.error(`health/ready on port ${port} answered ${response.status}`);
  } catch (error) {
    console.error(`health/ready on port ${port} unreachable: ${error.cause?.code ?? error.message}`);
  }
  return false;
}

Promise.all(ports.map(ready)).then((results) => process.exit(results.every(Boolean) ? 0 : 1));
