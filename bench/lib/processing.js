'use strict';
/**
 * Processing throughput: N system.noop tasks wait in a paused queue (Conveyor's enqueued through
 * the API, so their ledger rows exist; the baseline's added as raw jobs with the same options),
 * already-started workers wait on it, and the clock runs from `resume()` to the finish time of
 * the last job as BullMQ recorded it (the newest score of the queue's completed set, written by
 * the worker when it acknowledged the job). Conveyor's worker acknowledges a job only after the
 * ledger says `completed`, so that moment includes the ledger write. Rounds alternate
 * conveyor / baseline with the same workers kept running, after one unmeasured warm-up drain.
 */
const { CPU } = require('./stack');
const { QUEUE, NAME, jobData, jobOptions } = require('./baseline-job');
const { compare, round } = require('./stats');
const { sleep } = require('./infra');

const SYSTEMS = ['conveyor', 'baseline'];
const FILL_BATCH = 1000;

async function fill(ctx, system, count) {
  const { stack } = ctx;
  if (system === 'conveyor') {
    // Through the API: ledger rows and jobs, exactly as a client would create them.
    const senders = 2;
    let left = count;
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (left > 0) {
          const size = Math.min(FILL_BATCH, left);
          left -= size;
          const body = JSON.stringify({ tasks: Array.from({ length: size }, () => ({ type: NAME, payload: {} })) });
          const response = await fetch(`${stack.apiUrl}/v1/tasks/batch`, { method: 'POST', headers: stack.authHeaders, body });
          if (response.status !== 202) throw new Error(`filling the queue: /v1/tasks/batch answered ${response.status}: ${await response.text()}`);
          await response.arrayBuffer().catch(() => undefined);
        }
      }),
    );
  } else {
    const { uuidv7 } = require('uuidv7');
    for (let i = 0; i < count; i += FILL_BATCH) {
      const size = Math.min(FILL_BATCH, count - i);
      await stack.queues.baseline.addBulk(Array.from({ length: size }, () => ({ name: NAME, data: jobData(), opts: jobOptions(uuidv7()) })));
    }
  }
}

const PENDING_STATES = ['waiting', 'active', 'prioritized', 'delayed', 'waiting-children', 'paused'];

/** Resumes the paused queue and waits until nothing is left in it; returns tasks/s. */
async function drain(ctx, system, count, timeoutMs) {
  const queue = ctx.stack.queues[system];
  const prefix = ctx.stack.prefixes[system];
  const failedBefore = (await queue.getJobCounts('failed')).failed;
  const started = Date.now();
  await queue.resume();
  const deadline = started + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts(...PENDING_STATES);
    const pending = PENDING_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
    if (pending === 0) break;
    if (Date.now() > deadline) throw new Error(`${system}: ${pending} of ${count} tasks still pending after ${timeoutMs} ms`);
    await sleep(5);
  }
  const polledEnd = Date.now();
  await queue.pause();
  const [, score] = await ctx.stack.redis.zrevrange(`${prefix}:${QUEUE}:completed`, 0, 0, 'WITHSCORES');
  const finished = Number(score) || polledEnd;
  const failed = (await queue.getJobCounts('failed')).failed - failedBefore;
  if (failed > 0) throw new Error(`${system}: ${failed} tasks failed while draining`);
  const seconds = (finished - started) / 1000;
  return { tasks: count, seconds: round(seconds, 3), tasksPerSec: round(count / seconds, 1), pollLagMs: polledEnd - finished };
}

function cpusFor(procs, index) {
  if (CPU.server === undefined) return undefined;
  // One process: the server core. Two: one per core (the load generator is idle while draining).
  return procs === 1 ? CPU.server : String(index % 2);
}

async function processingPhase(ctx) {
  const { stack, mode, log } = ctx;
  const results = [];
  await Promise.all(SYSTEMS.map((system) => stack.queues[system].pause()));
  for (const config of mode.processing) {
    const { procs, concurrency, tasks } = config;
    const workers = [];
    for (let i = 0; i < procs; i += 1) {
      workers.push(await stack.startWorker({ concurrency, cpus: cpusFor(procs, i), name: `worker-c${concurrency}-${i}` }));
      workers.push(await stack.startRawWorker({ concurrency, cpus: cpusFor(procs, i), name: `raw-worker-c${concurrency}-${i}` }));
    }
    const timeoutMs = Math.max(60_000, tasks * 20);
    try {
      const warm = Math.min(tasks, mode.warmupTasks);
      for (const system of SYSTEMS) {
        await fill(ctx, system, warm);
        await drain(ctx, system, warm, timeoutMs);
      }
      const runs = { conveyor: [], baseline: [] };
      for (let round_ = 0; round_ < mode.reps; round_ += 1) {
        for (const system of SYSTEMS) {
          await fill(ctx, system, tasks);
          await sleep(200); // let the API's and Redis' work from filling settle
          const result = await drain(ctx, system, tasks, timeoutMs);
          runs[system].push(result);
          log(`  processing ${procs}×c${String(concurrency).padEnd(3)} ${system.padEnd(8)} round ${round_ + 1}: ${result.tasksPerSec} tasks/s (${tasks} in ${result.seconds} s)`);
        }
      }
      const summary = compare(runs.conveyor, runs.baseline, 'tasksPerSec');
      results.push({ procs, concurrency, tasks, runs, summary });
      log(`processing ${procs} process(es) × concurrency ${concurrency}: conveyor ${summary.conveyor} vs raw ${summary.baseline} tasks/s → ratio ${summary.ratio}`);
    } finally {
      await Promise.all(workers.map((w) => w.record.stop()));
    }
  }
  // Every task Conveyor drained must be `completed` in the ledger.
  const rows = await stack.db.query('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status');
  const ledger = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  const expected = results.reduce((sum, r) => sum + r.tasks * mode.reps + Math.min(r.tasks, mode.warmupTasks), 0);
  if ((ledger.completed ?? 0) !== expected || Object.keys(ledger).some((status) => status !== 'completed')) {
    throw new Error(`ledger after processing: ${JSON.stringify(ledger)}, expected ${expected} completed`);
  }
  return { settings: { rounds: mode.reps, warmupTasks: mode.warmupTasks, pinning: CPU.server === undefined ? 'none' : '1 process: CPU 0; 2 processes: CPU 0 and CPU 1' }, ledgerCheck: { completed: ledger.completed, expected }, configs: results };
}

module.exports = { processingPhase, fill, drain };
