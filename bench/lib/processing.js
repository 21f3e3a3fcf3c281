'use strict';
/**
 * Processing throughput: N system.noop tasks wait in a paused queue (Conveyor's enqueued through
 * the API, so their ledger rows exist; the baseline's added as raw jobs with the same options),
 * already-started workers wait on it, and the clock runs from `resume()` to the finish time of
 * the last job as BullMQ recorded it (the newest score of the queue's completed set, written by
 * the worker when it acknowledged the job). Conveyor's worker acknowledges a job only after the
 * ledger says `completed`, so that moment includes the ledger write. Rounds alternate
 * conveyor / baseline (/ graphile-worker, see graphile-peer.js) with the same workers kept
 * running, after one unmeasured warm-up drain.
 */
const { CPU } = require('./stack');
const { QUEUE, NAME, jobData, jobOptions } = require('./baseline-job');
const { compare, round } = require('./stats');
const { sleep, cpuMs, rssMb } = require('./infra');

const SYSTEMS = ['conveyor', 'baseline'];
const FILL_BATCH = 1000;

async function fill(ctx, system, count) {
  const { stack } = ctx;
  if (system === 'graphile') {
    await ctx.peer.fill(count);
  } else if (system === 'conveyor') {
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
          for (const task of (await response.json()).tasks) ctx.filledIds?.push(task.id);
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
async function drain(ctx, system, count, timeoutMs, pids = []) {
  if (system === 'graphile') return ctx.peer.drain(count, timeoutMs, pids);
  const dbPids = system === 'conveyor' ? await ctx.stack.databaseServerPids() : [];
  const dbBefore = dbPids.map(cpuMs);
  const redisBefore = ctx.redisPid ? cpuMs(ctx.redisPid) : null;
  const cpuBefore = pids.map(cpuMs);
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
  const dbCpu = dbPids.reduce((sum, pid, i) => sum + ((cpuMs(pid) ?? dbBefore[i]) - (dbBefore[i] ?? 0)), 0);
  const redisCpu = redisBefore === null ? null : cpuMs(ctx.redisPid) - redisBefore;
  const cpu = pids.length && cpuBefore.every((v) => v !== null) ? pids.reduce((sum, pid, i) => sum + cpuMs(pid) - cpuBefore[i], 0) : null;
  return {
    tasks: count,
    seconds: round(seconds, 3),
    tasksPerSec: round(count / seconds, 1),
    pollLagMs: polledEnd - finished,
    // Worker CPU (all processes of the system) per task, and as a share of the drain's wall time
    // per process: near 100 % means the worker itself is the limit.
    workerCpuUsPerTask: cpu === null ? null : round((cpu * 1000) / count, 1),
    workerCpuPct: cpu === null ? null : round((cpu / ((polledEnd - started) * pids.length)) * 100, 1),
    // The ledger database's server processes serving this run (PostgreSQL backends of its
    // database; the whole mysqld for MySQL) and Redis (shared with everyone on the machine).
    databaseCpuUsPerTask: dbPids.length ? round((dbCpu * 1000) / count, 1) : null,
    redisCpuUsPerTask: redisCpu === null ? null : round((redisCpu * 1000) / count, 1),
  };
}

function cpusFor(procs, index) {
  if (CPU.server === undefined) return undefined;
  // One process: the server core. Two: one per core (the load generator is idle while draining).
  return procs === 1 ? CPU.server : String(index % 2);
}

async function processingPhase(ctx) {
  const { stack, mode, log, peer } = ctx;
  // graphile-worker (when the ledger is on PostgreSQL) takes its turn after the other two.
  const systems = peer ? [...SYSTEMS, 'graphile'] : SYSTEMS;
  const results = [];
  let peerRan = 0;
  // The ids of every task this phase created through the API, for the ledger check.
  ctx.filledIds = [];
  await Promise.all(SYSTEMS.map((system) => stack.queues[system].pause()));
  for (const config of mode.processing) {
    const { procs, concurrency, tasks } = config;
    const workers = [];
    const pids = { conveyor: [], baseline: [], graphile: [] };
    const peerWorkers = [];
    // Every process of the row boots at once (they wait idle until their turn anyway).
    const started = await Promise.all(
      Array.from({ length: procs }, (_, i) =>
        Promise.all([
          stack.startWorker({ concurrency, cpus: cpusFor(procs, i), name: `worker-c${concurrency}-${i}` }),
          stack.startRawWorker({ concurrency, cpus: cpusFor(procs, i), name: `raw-worker-c${concurrency}-${i}` }),
          peer ? peer.startWorker({ concurrency, cpus: cpusFor(procs, i), name: `graphile-worker-${procs}x${concurrency}-${i}` }) : null,
        ]),
      ),
    );
    for (const [conveyor, raw, graphile] of started) {
      workers.push(conveyor, raw);
      pids.conveyor.push(conveyor.record.pid);
      pids.baseline.push(raw.record.pid);
      if (graphile) {
        workers.push(graphile);
        peerWorkers.push(graphile);
        pids.graphile.push(graphile.record.pid);
      }
    }
    const timeoutMs = Math.max(60_000, tasks * 20);
    const rssOf = () => Object.fromEntries(systems.map((system) => [system, rssMb(pids[system][0])]));
    const rss = { idle: rssOf() };
    try {
      const warm = Math.min(tasks, mode.warmupTasks);
      for (const system of systems) {
        await fill(ctx, system, warm);
        await drain(ctx, system, warm, timeoutMs);
      }
      const runs = Object.fromEntries(systems.map((system) => [system, []]));
      for (let round_ = 0; round_ < mode.reps; round_ += 1) {
        for (const system of systems) {
          await fill(ctx, system, tasks);
          await sleep(200); // let the API's and Redis' work from filling settle
          const result = await drain(ctx, system, tasks, timeoutMs, pids[system]);
          runs[system].push(result);
          log(
            `  processing ${procs}×c${String(concurrency).padEnd(3)} ${system.padEnd(8)} round ${round_ + 1}: ${result.tasksPerSec} tasks/s (${tasks} in ${result.seconds} s; worker CPU ${result.workerCpuUsPerTask} µs/task, ${result.workerCpuPct} % busy; db ${result.databaseCpuUsPerTask ?? '–'} µs/task; redis ${result.redisCpuUsPerTask ?? '–'} µs/task)`,
          );
        }
      }
      const summary = compare(runs.conveyor, runs.baseline, 'tasksPerSec');
      const cpu = compare(runs.conveyor, runs.baseline, 'workerCpuUsPerTask', { higherIsBetter: false });
      const busy = compare(runs.conveyor, runs.baseline, 'workerCpuPct', { higherIsBetter: false });
      rss.afterRounds = rssOf();
      const config_ = { procs, concurrency, tasks, runs, summary, workerCpuUsPerTask: cpu, workerCpuPct: busy, workerRssMb: rss };
      if (peer) config_.peer = peerSummary(runs);
      results.push(config_);
      log(
        `processing ${procs} process(es) × concurrency ${concurrency}: conveyor ${summary.conveyor} vs raw ${summary.baseline} tasks/s → ratio ${summary.ratio}` +
          (peer
            ? `; graphile-worker ${config_.peer.vsRaw.peer} tasks/s → ${config_.peer.vsRaw.ratio} of raw, conveyor ${config_.peer.conveyorVsPeer.ratio} of graphile-worker`
            : ''),
      );
    } finally {
      await Promise.all(workers.map((w) => w.record.stop()));
    }
    for (const worker of peerWorkers) {
      // The last such line: a log file named like an earlier row's process holds that one's too.
      const ran = [...worker.record.tail().matchAll(/jobs run: (\d+)/g)].at(-1);
      if (!ran) throw new Error(`${worker.record.name} did not say how many jobs it ran:\n${worker.record.tail()}`);
      peerRan += Number(ran[1]);
    }
  }
  // Every task Conveyor drained must be `completed` in the ledger. Counted by id: the workers'
  // own schedules record housekeeping runs (system.reconcile, system.retention) in the ledger,
  // queued on the `maintenance` queue these workers do not serve (WORKER_QUEUES=system), so a
  // run long enough to see a schedule fire has rows of its own there; they are reported, not counted.
  const expected = results.reduce((sum, r) => sum + r.tasks * mode.reps + Math.min(r.tasks, mode.warmupTasks), 0);
  const ledger = await statusesOf(stack.db, ctx.filledIds);
  if (ctx.filledIds.length !== expected || (ledger.completed ?? 0) !== expected || Object.keys(ledger).some((status) => status !== 'completed')) {
    throw new Error(`ledger after processing: ${JSON.stringify(ledger)} of ${ctx.filledIds.length} tasks created, expected ${expected} completed`);
  }
  const all = await stack.db.query('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status');
  const otherRows = Object.fromEntries(all.map((r) => [r.status, Number(r.n) - (ledger[r.status] ?? 0)]).filter(([, n]) => n > 0));
  // The peer ran every job it drained exactly once (its workers count what they ran).
  if (peer && peerRan !== expected) throw new Error(`graphile-worker ran ${peerRan} jobs, ${expected} were added`);
  return {
    settings: {
      rounds: mode.reps,
      warmupTasks: mode.warmupTasks,
      pinning: CPU.server === undefined ? 'none' : '1 process: CPU 0; 2 processes: CPU 0 and CPU 1',
    },
    ledgerCheck: { completed: ledger.completed, expected, otherRows },
    ...(peer ? { peerCheck: { ran: peerRan, expected } } : {}),
    peer: peer ? { name: peer.name, version: peer.version, settings: peer.settings } : (ctx.peerSkipped ?? null),
    configs: results,
  };
}

/** Status counts of the ledger rows with these ids. */
async function statusesOf(db, ids) {
  const counts = {};
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const placeholders = db.dialect === 'postgres' ? chunk.map((_, j) => `$${j + 1}`).join(', ') : chunk.map(() => '?').join(', ');
    for (const row of await db.query(`SELECT status, COUNT(*) AS n FROM tasks WHERE id IN (${placeholders}) GROUP BY status`, chunk)) {
      counts[row.status] = (counts[row.status] ?? 0) + Number(row.n);
    }
  }
  return counts;
}

/**
 * The peer's rounds against raw BullMQ's and Conveyor's, paired by round like every ratio here
 * (`compare` names its two sides conveyor/baseline; renamed so the JSON reads as what it is).
 */
function peerSummary(runs) {
  const rename = ({ conveyor, baseline, ...rest }, a, b) => ({ [a]: conveyor, [b]: baseline, ...rest });
  return {
    vsRaw: rename(compare(runs.graphile, runs.baseline, 'tasksPerSec'), 'peer', 'raw'),
    conveyorVsPeer: rename(compare(runs.conveyor, runs.graphile, 'tasksPerSec'), 'conveyor', 'peer'),
    workerCpuUsPerTask: rename(compare(runs.graphile, runs.baseline, 'workerCpuUsPerTask', { higherIsBetter: false }), 'peer', 'raw'),
    workerCpuPct: rename(compare(runs.graphile, runs.baseline, 'workerCpuPct', { higherIsBetter: false }), 'peer', 'raw'),
  };
}

module.exports = { processingPhase, fill, drain };
