#!/usr/bin/env node
'use strict';
/**
 * Two builds' workers and a raw BullMQ worker drained in interleaved rounds (A, B, raw, A, B,
 * raw, …), each build on a stack of its own (its API, database and prefix), so both workers stay
 * up between rounds. Besides tasks/s it reports each worker's CPU time per task (from /proc) and
 * the database's and Redis' CPU per task: on a busy shared machine CPU per task moves far less
 * than throughput, so a change that saves work shows there even when neighbouring rounds' tasks/s
 * differ by 2×. With --profile the last round of each build is CPU-profiled.
 *
 * Usage: node bench/worker-ab.js --a DIST_A --b DIST_B [--rounds 4] [--tasks 4000] [--concurrency 10]
 *                                [--db postgres|mysql] [--log-level info] [--profile DIR]
 * DIST_* are built `dist` folders (e.g. a copy of main's build and yours); each must have a
 * node_modules beside it (a symlink to the project's will do).
 */
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { runMainOnProjectNode } = require('../scripts/lib/project-node');
const { abArgs } = require('./lib/ab-args');

function parseArgs(argv) {
  const { value, dists } = abArgs(argv);
  return {
    dists,
    rounds: Number(value('--rounds', 4)),
    tasks: Number(value('--tasks', 4000)),
    concurrency: Number(value('--concurrency', 10)),
    dialect: value('--db', 'postgres'),
    logLevel: value('--log-level', 'info'),
    profile: value('--profile', null),
  };
}

async function main() {
  const { Run, useDist, freePort, sleep } = require('./lib/infra');
  const { startStack, CPU, serverPid } = require('./lib/stack');
  const { fill, drain } = require('./lib/processing');
  const { control } = require('./lib/profile');
  const { median, round } = require('./lib/stats');
  const options = parseArgs(process.argv.slice(2));
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  const { concurrency, tasks } = options;
  try {
    const systems = {};
    for (const [name, dist] of Object.entries(options.dists)) {
      useDist(dist);
      const stack = await startStack(run, { dialect: options.dialect, logLevel: options.logLevel, log });
      const api = await stack.startApi({ cpus: CPU.load });
      stack.apiUrl = api.url;
      const profile = options.profile ? { port: await freePort(), file: path.join(path.resolve(options.profile), `worker-${name}.cpuprofile`) } : undefined;
      const worker = await stack.startWorker({ concurrency, cpus: CPU.server, name: `worker-${name}`, profile });
      await stack.queues.conveyor.pause();
      systems[name] = { ctx: { stack, log, redisPid: null }, system: 'conveyor', pid: worker.record.pid, profile, url: worker.url };
      if (name === 'A') {
        const raw = await stack.startRawWorker({ concurrency, cpus: CPU.server });
        await stack.queues.baseline.pause();
        systems.raw = { ctx: systems.A.ctx, system: 'baseline', pid: raw.record.pid };
      }
    }
    if (options.profile) fs.mkdirSync(path.resolve(options.profile), { recursive: true });
    const redisPid = serverPid('redis-server')?.[0] ?? null;
    for (const s of Object.values(systems)) s.ctx.redisPid = redisPid;
    const once = async (name, count, measured, last) => {
      const { ctx, system, pid, profile } = systems[name];
      await fill(ctx, system, count);
      await sleep(200);
      if (last && profile) await control(profile.port, 'start');
      const result = await drain(ctx, system, count, Math.max(60_000, count * 20), measured ? [pid] : []);
      if (last && profile) await control(profile.port, 'stop');
      return result;
    };
    for (const name of Object.keys(systems)) await once(name, Math.min(tasks, 1000), false, false);
    // Ledger transactions per task (PostgreSQL's own count for each build's database): how well
    // the worker's writes are batched, unaffected by how busy the machine is.
    const commits = async (name) =>
      options.dialect === 'postgres'
        ? Number((await systems[name].ctx.stack.db.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()'))[0].xact_commit)
        : null;
    const commitsBefore = { A: await commits('A'), B: await commits('B') };
    const rows = { A: [], B: [], raw: [] };
    for (let r = 1; r <= options.rounds; r += 1) {
      for (const name of Object.keys(rows)) {
        const result = await once(name, tasks, true, r === options.rounds);
        rows[name].push(result);
        log(
          `round ${r} ${name.padEnd(4)} ${result.tasksPerSec} tasks/s, worker ${result.workerCpuUsPerTask} µs CPU/task (${result.workerCpuPct} % busy), db ${result.databaseCpuUsPerTask ?? '–'} µs/task, redis ${result.redisCpuUsPerTask} µs/task, load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    }
    const med = (name, key) => round(median(rows[name].map((x) => x[key])), 1);
    for (const name of Object.keys(rows)) {
      const ratio = rows[name].map((x, i) => x.tasksPerSec / rows.raw[i].tasksPerSec);
      log(
        `${name.padEnd(4)} median ${med(name, 'tasksPerSec')} tasks/s (ratio to raw ${round(median(ratio), 3)}), worker ${med(name, 'workerCpuUsPerTask')} µs CPU/task, ${med(name, 'workerCpuPct')} % busy, db ${med(name, 'databaseCpuUsPerTask')} µs/task, redis ${med(name, 'redisCpuUsPerTask')} µs/task`,
      );
    }
    await sleep(1500); // PostgreSQL publishes its counters about once a second
    for (const name of ['A', 'B']) {
      const after = await commits(name);
      // Filling through the API commits too; the report is what the whole round trip costs.
      if (after !== null)
        log(`${name} ledger commits per task (fill through the API + drain): ${round((after - commitsBefore[name]) / (tasks * options.rounds), 3)}`);
    }
    // How the workers recorded plain completions (a build without the counter prints nothing).
    for (const name of ['A', 'B']) {
      const text = await (await fetch(`${systems[name].url}/metrics`)).text();
      const lines = text.split('\n').filter((line) => line.startsWith('conveyor_ledger_completions_total'));
      if (lines.length) log(`${name} ${lines.join(', ')}`);
    }
    const paired = (key) => rows.B.map((x, i) => x[key] / rows.A[i][key]);
    log(
      `B/A worker CPU per task: median ${round(median(paired('workerCpuUsPerTask')), 3)} (${paired('workerCpuUsPerTask')
        .map((v) => round(v, 2))
        .join(' ')})`,
    );
    log(
      `B/A tasks/s: median ${round(median(paired('tasksPerSec')), 3)} (${paired('tasksPerSec')
        .map((v) => round(v, 2))
        .join(' ')})`,
    );
  } catch (error) {
    run.failed = true;
    throw error;
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);
