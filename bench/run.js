#!/usr/bin/env node
'use strict';
/**
 * Conveyor vs raw BullMQ, measured side by side in one run on the built apps as real processes:
 *   idle       resident memory of the API and of a worker 10 s after boot (ready), from /proc
 *   sse        1,000 open task event streams while nothing changes: the API's ledger reads/s, CPU
 *              and memory; Last-Event-ID resumption with the streams open
 *   enqueue    autocannon on POST /v1/tasks and /v1/tasks/batch vs bare Fastify + queue.add/addBulk
 *   processing N pre-enqueued system.noop tasks drained by Conveyor workers (ledger on) vs raw
 *              BullMQ Workers and (ledger on PostgreSQL) graphile-worker in batched mode,
 *              concurrency 1/10/50, one and two processes
 *   tracing    the enqueue and processing benchmarks with tracing off and on (OTLP to a local
 *              receiver), interleaved: the overhead of tracing as on/off ratios
 *   latency    enqueue → completed at a steady ~50 % of the measured max processing rate
 *   profile    (--profile) CPU profiles of the API and the worker under load
 * Results: <out>/<timestamp>.json and latest.json (in bench/results, latest.json only with the report),
 *          unless --no-docs also docs/benchmarks.md and docs/img/*.svg.
 *
 * Usage: npm run bench            quick mode (about 3 minutes)
 *        npm run bench:full       longer runs, more rounds
 *        node bench/run.js [--quick|--full|--smoke] [--db postgres|mysql] [--only idle,sse,enqueue,processing,tracing,latency]
 *                          [--no-peer] [--profile] [--out DIR] [--no-docs] [--log-level info] [--keep-logs] [--dist DIR]
 *                          [--processing 1x10,2x50[:TASKS]] [--reps N] [--latency-rate TASKS_PER_S]
 *                          [--tracing-sample RATIO] [--help]
 * The apps run from a copy of dist/ (or --dist DIR) taken at the start, so a rebuild by someone
 * else during the run changes nothing.
 * --no-peer leaves graphile-worker out of the processing phase.
 * --tracing-sample samples that share of traces on the tracing phase's "on" side
 * (parentbased_traceidratio) instead of every trace.
 * Needs `npm run build` first, Redis and the chosen database on 127.0.0.1.
 */
const { runMainOnProjectNode } = require('../scripts/lib/project-node');

const MODES = {
  smoke: {
    idleAfterSeconds: 0.5,
    sseStreams: 30,
    sseQuietSeconds: 1,
    sseResumeSample: 3,
    sseNoReplayWaitMs: 300,
    enqueueSeconds: 2,
    warmupSeconds: 0,
    reps: 1,
    connections: 10,
    batchConnections: 4,
    batchSize: 100,
    warmupTasks: 50,
    processing: [{ procs: 1, concurrency: 10, tasks: 300 }],
    tracing: { concurrency: 10, tasks: 300 },
    latencySeconds: 2,
    latencyWarmupSeconds: 0,
    latencyReps: 1,
    latencyRate: 50,
    profileSeconds: 3,
    profileTasks: 1000,
    profileConcurrency: 50,
  },
  quick: {
    idleAfterSeconds: 10,
    sseStreams: 1000,
    // Longer than the streams' 30 s safety read, which a shorter window would hide.
    sseQuietSeconds: 35,
    sseResumeSample: 20,
    sseNoReplayWaitMs: 1000,
    enqueueSeconds: 5,
    warmupSeconds: 2,
    reps: 2,
    connections: 50,
    batchConnections: 10,
    batchSize: 100,
    warmupTasks: 500,
    processing: [
      { procs: 1, concurrency: 1, tasks: 1000 },
      { procs: 1, concurrency: 10, tasks: 4000 },
      { procs: 1, concurrency: 50, tasks: 5000 },
      { procs: 2, concurrency: 50, tasks: 5000 },
    ],
    tracing: { concurrency: 10, tasks: 4000 },
    latencySeconds: 8,
    latencyWarmupSeconds: 1,
    latencyReps: 1,
    profileSeconds: 8,
    profileTasks: 20000,
    profileConcurrency: 50,
  },
  full: {
    idleAfterSeconds: 10,
    sseStreams: 1000,
    sseQuietSeconds: 65,
    sseResumeSample: 50,
    sseNoReplayWaitMs: 1000,
    enqueueSeconds: 10,
    warmupSeconds: 3,
    reps: 3,
    connections: 50,
    batchConnections: 10,
    batchSize: 100,
    warmupTasks: 1000,
    processing: [
      { procs: 1, concurrency: 1, tasks: 3000 },
      { procs: 1, concurrency: 10, tasks: 15000 },
      { procs: 1, concurrency: 50, tasks: 20000 },
      { procs: 2, concurrency: 10, tasks: 20000 },
      { procs: 2, concurrency: 50, tasks: 20000 },
    ],
    tracing: { concurrency: 10, tasks: 15000 },
    latencySeconds: 20,
    latencyWarmupSeconds: 2,
    latencyReps: 3,
    profileSeconds: 15,
    profileTasks: 40000,
    profileConcurrency: 50,
  },
};

const PHASES = ['idle', 'sse', 'enqueue', 'processing', 'tracing', 'latency'];

const KNOWN_FLAGS = new Set([
  '--smoke',
  '--quick',
  '--full',
  '--db',
  '--only',
  '--profile',
  '--out',
  '--no-docs',
  '--log-level',
  '--keep-logs',
  '--dist',
  '--processing',
  '--no-peer',
  '--reps',
  '--latency-rate',
  '--tracing-sample',
  '--help',
]);

function usage() {
  // The header comment of this file is the usage text.
  const text = require('node:fs').readFileSync(__filename, 'utf8');
  return text
    .slice(text.indexOf('/**') + 3, text.indexOf('*/'))
    .replace(/^ \* ?/gm, '')
    .trim();
}

function parseArgs(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  // An unknown option must not start a run (and rewrite the docs) as if it were quick mode.
  const unknown = [...flags].filter((flag) => !KNOWN_FLAGS.has(flag));
  if (flags.has('--help') || unknown.length > 0) {
    if (unknown.length > 0) console.error(`unknown option(s): ${unknown.join(' ')}\n`);
    console.log(usage());
    process.exit(unknown.length > 0 ? 2 : 0);
  }
  const value = (name, fallback) => {
    const i = argv.indexOf(name);
    return i === -1 ? fallback : argv[i + 1];
  };
  const modeName = flags.has('--smoke') ? 'smoke' : flags.has('--full') ? 'full' : 'quick';
  const only = value('--only', PHASES.join(',')).split(',');
  const unknownPhases = only.filter((phase) => !PHASES.includes(phase));
  if (unknownPhases.length > 0) throw new Error(`--only: unknown phase(s) ${unknownPhases.join(', ')}; phases: ${PHASES.join(', ')}`);
  const mode = { ...MODES[modeName] };
  // --processing 1x50,2x50[:tasks] picks the processing rows (processes x concurrency).
  const processing = value('--processing', null);
  if (processing) {
    mode.processing = processing.split(',').map((spec) => {
      const [, procs, concurrency, tasks] = /^(\d+)x(\d+)(?::(\d+))?$/.exec(spec) ?? [];
      if (!procs) throw new Error(`--processing: "${spec}" is not PROCSxCONCURRENCY[:TASKS]`);
      const known = MODES[modeName].processing.find((c) => c.concurrency === Number(concurrency));
      return { procs: Number(procs), concurrency: Number(concurrency), tasks: Number(tasks ?? known?.tasks ?? 5000) };
    });
  }
  if (value('--reps', null)) mode.reps = Number(value('--reps'));
  if (value('--tracing-sample', null)) mode.tracing = { ...mode.tracing, sampleRatio: Number(value('--tracing-sample')) };
  // A fixed latency rate, e.g. to compare two builds at the same load.
  if (value('--latency-rate', null)) mode.latencyRate = Number(value('--latency-rate'));
  return {
    modeName,
    mode,
    dialect: value('--db', 'postgres'),
    only: new Set(only),
    profile: flags.has('--profile'),
    peer: !flags.has('--no-peer'),
    out: value('--out', null),
    docs: !flags.has('--no-docs') && modeName !== 'smoke',
    logLevel: value('--log-level', 'info'),
    keepLogs: flags.has('--keep-logs'),
    dist: value('--dist', null),
  };
}

async function main() {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const { Run, ROOT, CAN_PIN, snapshotDist, rssMb } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { environment } = require('./lib/machine');
  const { enqueuePhase } = require('./lib/enqueue');
  const { processingPhase } = require('./lib/processing');
  const { idlePhase } = require('./lib/idle');
  const { ssePhase } = require('./lib/sse');
  const { startGraphilePeer } = require('./lib/graphile-peer');
  const { latencyPhase } = require('./lib/latency');
  const { tracingPhase } = require('./lib/tracing');
  const { profilePhase } = require('./lib/profile');
  const { writeReport, checkTargets } = require('./lib/report');

  const options = parseArgs(process.argv.slice(2));
  if (!['postgres', 'mysql'].includes(options.dialect)) throw new Error(`--db must be postgres or mysql, not ${options.dialect}`);
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const outDir = options.out ? path.resolve(options.out) : path.join(ROOT, 'bench', 'results');
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ keepLogs: options.keepLogs, log });
  const results = {
    schema: 1,
    mode: options.modeName,
    startedAt: started.toISOString(),
    settings: { ...options.mode, dialect: options.dialect, logLevel: options.logLevel },
    pinning: CAN_PIN
      ? {
          api: `CPU ${CPU.server}`,
          loadGenerator: `CPU ${CPU.load}`,
          workers: '1 process: CPU 0; 2 processes: CPU 0 and 1',
          latencyPhase: 'unpinned',
          redisAndDatabase: 'unpinned (shared machine services)',
        }
      : { note: 'taskset unavailable: nothing pinned' },
  };
  try {
    log(`conveyor bench (${options.modeName}, ${options.dialect}) — the machine is shared: read ratios, not absolute numbers`);
    results.environment = await environment(options.dialect);
    await snapshotDist(run, options.dist ? path.resolve(options.dist) : undefined);
    const stack = await startStack(run, { dialect: options.dialect, logLevel: options.logLevel, log });
    // What this run created (and removed again at the end): the smoke test checks it is gone.
    results.resources = { database: stack.db.name, queuePrefixes: Object.values(stack.prefixes) };
    // graphile-worker's database and schema are made while the apps boot.
    let peerSkipped = null;
    if (!options.peer) peerSkipped = '--no-peer';
    else if (options.dialect !== 'postgres') peerSkipped = 'it needs PostgreSQL; this run keeps the ledger on MySQL';
    const peerStarting = options.only.has('processing') && !peerSkipped ? startGraphilePeer(run) : null;
    peerStarting?.catch(() => undefined); // awaited, and its error thrown, in the processing phase
    // Started together; the idle phase's worker too (on the other core), so their idle 10 s overlap.
    const ready = (promise) => promise.then((started) => ({ ...started, readyAt: Date.now() }));
    const [api, baseline, idleWorker] = await Promise.all([
      ready(stack.startApi({ cpus: CPU.server })),
      stack.startBaselineApi({ cpus: CPU.server }),
      options.only.has('idle') ? ready(stack.startWorker({ name: 'idle-worker', appDefaults: true, cpus: CPU.load })) : null,
    ]);
    Object.assign(stack, { api: api.record, apiUrl: api.url, baselineApi: baseline.record, baselineUrl: baseline.url });
    const { serverPid } = require('./lib/stack');
    const ctx = { run, stack, mode: options.mode, log, redisPid: serverPid('redis-server')?.[0] };
    results.rssMb = { apiIdle: rssMb(api.record.pid) };

    // How long each phase took, for whoever has to fit the run into a time budget.
    results.phaseSeconds = { setup: Math.round((Date.now() - started.getTime()) / 100) / 10 };
    const timed = async (phase, fn) => {
      const t0 = Date.now();
      try {
        return await fn();
      } finally {
        results.phaseSeconds[phase] = Math.round((Date.now() - t0) / 100) / 10;
      }
    };
    // First, while the API has served nothing yet.
    if (idleWorker) results.idle = await timed('idle', () => idlePhase(ctx, { api, worker: idleWorker }));
    if (options.only.has('sse')) {
      results.sse = await timed('sse', () => ssePhase(ctx));
      await stack.reset();
    }

    if (options.only.has('enqueue')) {
      results.enqueue = await timed('enqueue', () => enqueuePhase(ctx));
      results.rssMb.apiAfterEnqueue = rssMb(api.record.pid);
      await stack.reset();
    }
    if (options.only.has('processing')) {
      if (peerSkipped) ctx.peerSkipped = { name: 'graphile-worker', skipped: peerSkipped };
      results.processing = await timed('processing', async () => {
        if (peerStarting) {
          ctx.peer = await peerStarting;
          results.resources.peerDatabase = ctx.peer.database;
        }
        return processingPhase(ctx);
      });
      await stack.reset();
    }
    if (options.only.has('tracing')) {
      results.tracing = await timed('tracing', () => tracingPhase(ctx));
      await stack.reset();
    }
    if (options.only.has('latency')) {
      const single = (results.processing?.configs ?? []).filter((c) => c.procs === 1);
      const best = single.reduce((a, b) => (!a || b.summary.conveyor > a.summary.conveyor ? b : a), null);
      let rate = options.mode.latencyRate;
      let basis = 'fixed rate (--latency-rate, or smoke mode)';
      if (!rate) {
        if (!best) throw new Error('the latency phase needs the processing phase to pick its rate');
        rate = Math.round(best.summary.conveyor * 0.5);
        basis = `50 % of Conveyor's max processing rate (${best.summary.conveyor} tasks/s, 1 process, concurrency ${best.concurrency})`;
        const enqueueMax = results.enqueue?.single?.summary.throughput.conveyor;
        if (enqueueMax && enqueueMax * 0.5 < rate) {
          rate = Math.round(enqueueMax * 0.5);
          basis = `50 % of Conveyor's max single-task enqueue rate (${enqueueMax} req/s), below 50 % of its processing rate (${best.summary.conveyor} tasks/s)`;
        }
      }
      results.latency = await timed('latency', () => latencyPhase(ctx, { rate, basis, concurrency: best?.concurrency ?? 10 }));
      await stack.reset();
    }
    if (options.profile) {
      results.profile = await profilePhase(ctx, path.join(outDir, 'profiles'), stamp);
      await stack.reset();
    }
    results.rssMb.apiEnd = rssMb(api.record.pid);
    results.finishedAt = new Date().toISOString();
    results.durationSec = Math.round((Date.now() - started.getTime()) / 1000);
    results.environment.machine.loadAverageAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
    results.targets = checkTargets(results);
    results.resources.processes = run.spawned.length;
    results.resources.pids = run.spawned.map((p) => p.pid);

    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `${stamp}.json`);
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${path.relative(process.cwd(), file)}`);
    // bench/results/latest.json is committed with docs/benchmarks.md: there only a run that writes
    // the report replaces it (a --no-docs check while developing leaves the tree clean); an
    // --out folder of one's own always gets its latest.json.
    if (options.docs || options.out) fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    if (options.docs) {
      const written = await writeReport(results, { root: ROOT });
      log(`report: ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
    }
    for (const target of results.targets) log(`target ${target.name}: ${target.actual} (target ${target.target}) ${target.met ? 'met' : 'MISSED'}`);
  } catch (error) {
    run.failed = true;
    throw error;
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);

module.exports = { MODES, parseArgs };
