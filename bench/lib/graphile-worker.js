'use strict';
/**
 * The SQL-durable peer of the processing phase: one graphile-worker runner whose `system.noop`
 * task does nothing, in the batched mode its performance documentation describes (a local queue
 * that fetches and locks jobs in batches, completions and failures written in batches), at the
 * given concurrency, with its own default logger. Env: DATABASE_URL (its own database),
 * CONCURRENCY, LOCAL_QUEUE_SIZE. Prints "ready" once running; stops gracefully on SIGTERM and
 * then logs how many jobs it ran.
 */
const { run } = require('graphile-worker');
const { NAME } = require('./baseline-job');

async function main() {
  const concurrency = Number(process.env.CONCURRENCY ?? 10);
  // How many jobs this process ran, written to its log at the end: the bench checks that every
  // job drained ran once.
  let ran = 0;
  const runner = await run({
    noHandleSignals: true,
    taskList: {
      [NAME]: async () => {
        ran += 1;
      },
    },
    preset: {
      worker: {
        connectionString: process.env.DATABASE_URL,
        concurrentJobs: concurrency,
        // Its documented advice: 10 or concurrency + 2, whichever is larger.
        maxPoolSize: Math.max(10, concurrency + 2),
        localQueue: { size: Number(process.env.LOCAL_QUEUE_SIZE ?? 500) },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });
  process.stdout.write('ready\n');
  const stop = async () => {
    await runner.stop();
    process.stderr.write(`jobs run: ${ran}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await runner.promise;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
