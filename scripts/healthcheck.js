'use strict';
/**
 * The image's HEALTHCHECK (also used by docker-compose.worker.yml): GET /health/ready of the
 * process MODE runs, the API on PORT, the worker on WORKER_HEALTH_PORT. Exit 0 when it answers
 * 200, else 1. Node itself, so the slim image needs no curl. Other modes are one-shot commands:
 * healthy while they run.
 */
const mode = process.env.MODE;
const port = mode === 'api' ? process.env.PORT || 3000 : mode === 'worker' ? process.env.WORKER_HEALTH_PORT || 3001 : undefined;
if (port === undefined) process.exit(0);

fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(4000) })
  .then((response) => {
    if (response.status !== 200) console.error(`health/ready answered ${response.status}`);
    process.exit(response.status === 200 ? 0 : 1);
  })
  .catch((error) => {
    console.error(`health/ready unreachable: ${error.cause?.code ?? error.message}`);
    process.exit(1);
  });
