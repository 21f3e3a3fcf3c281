'use strict';
/**
 * graphile-worker as a peer in the processing phase: a job queue whose state lives in
 * PostgreSQL alone, so it pays a commit per batch of jobs as Conveyor's ledger does, where raw
 * BullMQ pays none. It gets its own database on the run's PostgreSQL server (created and
 * dropped with the run) and its own worker processes (bench/lib/graphile-worker.js, batched
 * mode), pinned like the other workers.
 *
 * Filling mirrors the paused BullMQ queue: the jobs are added in bulk with WorkerUtils.addJobs
 * inside one transaction left open until the drain, so no worker can see them yet; COMMIT plays
 * the part of resume() (graphile-worker notifies its workers of new jobs at commit). The clock
 * runs from COMMIT to the poll that finds no job left (it deletes a job when it records the
 * job's completion, in batches here), so it includes that last write.
 */
const path = require('node:path');
const fs = require('node:fs');
const { ROOT, cpuMs, createDatabase, sleep, waitForLine } = require('./infra');
const { NAME } = require('./baseline-job');
const { round } = require('./stats');

const ADD_BATCH = 1000;
/** Its performance documentation's local queue size (jobs fetched and locked per batch). */
const LOCAL_QUEUE_SIZE = 500;
/** Jobs still to run, or running; a job that failed for good stays behind with attempts used up. */
const PENDING_SQL = 'SELECT EXISTS (SELECT 1 FROM graphile_worker.jobs WHERE locked_at IS NOT NULL OR attempts < max_attempts) AS pending';
const FAILED_SQL = 'SELECT count(*)::int AS failed FROM graphile_worker.jobs';

function version() {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'graphile-worker', 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

async function startGraphilePeer(run) {
  const db = await createDatabase(run, 'postgres', 'conveyor_bench_gw');
  const { Logger, makeWorkerUtils, runMigrations } = require('graphile-worker');
  const { Client, Pool } = require('pg');
  const silent = new Logger(() => () => undefined);
  await runMigrations({ connectionString: db.url, logger: silent });
  // One connection, so BEGIN, every addJobs of a fill and COMMIT run in one transaction.
  const fillPool = new Pool({ connectionString: db.url, max: 1, idleTimeoutMillis: 0 });
  // A dropped connection fails the next fill or drain, which then ends the run.
  fillPool.on('error', () => undefined);
  fillPool.on('connect', (client) => client.on('error', () => undefined));
  const utils = await makeWorkerUtils({ pgPool: fillPool, logger: silent });
  const probe = new Client({ connectionString: db.url });
  await probe.connect();
  run.defer('close graphile-worker clients', async () => {
    await utils.release().catch(() => undefined);
    await fillPool.end().catch(() => undefined);
    await probe.end().catch(() => undefined);
  });
  let filled = 0;

  return {
    name: 'graphile-worker',
    version: version(),
    database: db.name,
    settings: { mode: 'batched', localQueueSize: LOCAL_QUEUE_SIZE, completeJobBatchDelay: 0, failJobBatchDelay: 0, maxPoolSize: 'max(10, concurrency + 2)' },

    async startWorker({ concurrency, cpus, name }) {
      const record = run.spawnNode(name, path.join(__dirname, 'graphile-worker.js'), {
        env: { DATABASE_URL: db.url, CONCURRENCY: String(concurrency), LOCAL_QUEUE_SIZE: String(LOCAL_QUEUE_SIZE), NODE_ENV: 'production' },
        cpus,
        pipeStdout: true,
      });
      await waitForLine(record, /ready/);
      return { record };
    },

    /** Adds `count` no-op jobs in an open transaction (invisible until `drain` commits it). */
    async fill(count) {
      await fillPool.query('BEGIN');
      for (let i = 0; i < count; i += ADD_BATCH) {
        const size = Math.min(ADD_BATCH, count - i);
        await utils.addJobs(Array.from({ length: size }, () => ({ identifier: NAME, payload: {}, maxAttempts: 1 })));
      }
      filled = count;
    },

    /** Commits the filled jobs and waits until none is left; the same fields as the other systems. */
    async drain(count, timeoutMs, pids = []) {
      if (filled !== count) throw new Error(`graphile-worker: ${filled} jobs filled, ${count} to drain`);
      const dbPids = (
        await probe.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1', [
          (await fillPool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid,
        ])
      ).rows.map((r) => Number(r.pid));
      const dbBefore = dbPids.map(cpuMs);
      const cpuBefore = pids.map(cpuMs);
      const started = Date.now();
      await fillPool.query('COMMIT');
      filled = 0;
      const deadline = started + timeoutMs;
      for (;;) {
        if (!(await probe.query(PENDING_SQL)).rows[0].pending) break;
        if (Date.now() > deadline) throw new Error(`graphile-worker: jobs still pending after ${timeoutMs} ms`);
        await sleep(5);
      }
      const finished = Date.now();
      // Whatever is left ran out of attempts (the only way a job stays behind here).
      const { failed } = (await probe.query(FAILED_SQL)).rows[0];
      if (failed > 0) throw new Error(`graphile-worker: ${failed} jobs failed while draining`);
      const seconds = (finished - started) / 1000;
      const cpu = pids.length && cpuBefore.every((v) => v !== null) ? pids.reduce((sum, pid, i) => sum + cpuMs(pid) - cpuBefore[i], 0) : null;
      const dbCpu = dbPids.reduce((sum, pid, i) => sum + ((cpuMs(pid) ?? dbBefore[i]) - (dbBefore[i] ?? 0)), 0);
      return {
        tasks: count,
        seconds: round(seconds, 3),
        tasksPerSec: round(count / seconds, 1),
        workerCpuUsPerTask: cpu === null ? null : round((cpu * 1000) / count, 1),
        workerCpuPct: cpu === null ? null : round((cpu / ((finished - started) * pids.length)) * 100, 1),
        databaseCpuUsPerTask: dbPids.length ? round((dbCpu * 1000) / count, 1) : null,
      };
    },
  };
}

module.exports = { startGraphilePeer };
