'use strict';
/**
 * The processing baseline: one raw BullMQ Worker on the `system` queue whose processor returns
 * `{ ok: true }` at once (what Conveyor's system.noop handler returns), with the same lock and
 * stall settings as Conveyor's worker defaults. Env: REDIS_HOST, REDIS_PORT, QUEUE_PREFIX,
 * CONCURRENCY. Prints "ready" once connected.
 */
const { Worker } = require('bullmq');
const { QUEUE } = require('./baseline-job');

async function main() {
  const worker = new Worker(QUEUE, async () => ({ ok: true }), {
    connection: { host: process.env.REDIS_HOST, port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null },
    prefix: process.env.QUEUE_PREFIX,
    concurrency: Number(process.env.CONCURRENCY ?? 10),
    lockDuration: 30_000,
    stalledInterval: 30_000,
    autorun: false,
  });
  worker.on('error', (error) => console.error('worker error', error));
  await worker.waitUntilReady();
  void worker.run();
  process.stdout.write('ready\n');
  const stop = async () => {
    await worker.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
