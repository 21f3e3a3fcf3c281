'use strict';
/**
 * Enqueue throughput: autocannon (its own process, on the load CPU) against `POST /v1/tasks`
 * and `POST /v1/tasks/batch` of the built API and of the bare Fastify + BullMQ baseline, in
 * interleaved rounds (conveyor, baseline, conveyor, baseline, …) after one warm-up each.
 */
const path = require('node:path');
const { CPU } = require('./stack');
const { compare, round } = require('./stats');

const LOAD = path.join(__dirname, 'load.js');
const SYSTEMS = ['conveyor', 'baseline'];

async function autocannon(run, options, cpus = CPU.load) {
  const record = run.spawnNode('autocannon', LOAD, { args: [JSON.stringify(options)], cpus, pipeStdout: true });
  let output = '';
  record.child.stdout.on('data', (chunk) => (output += chunk));
  const { code } = await record.exitPromise;
  if (code !== 0) throw new Error(`autocannon failed (exit ${code}):\n${record.tail()}`);
  return JSON.parse(output.trim().split('\n').pop());
}

function summarise(result, tasksPerRequest) {
  const seconds = result.duration;
  const ok = result['2xx'];
  return {
    requestsPerSec: round(ok / seconds, 1),
    tasksPerSec: round((ok * tasksPerRequest) / seconds, 1),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: round(result.latency.mean, 2) },
    requests: ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
  };
}

function bodyFor(kind, batchSize) {
  const task = { type: 'system.noop', payload: {} };
  return JSON.stringify(kind === 'single' ? task : { tasks: Array.from({ length: batchSize }, () => task) });
}

async function enqueuePhase(ctx) {
  const { run, stack, mode, log } = ctx;
  const out = {
    settings: {
      connections: mode.connections,
      batchConnections: mode.batchConnections,
      batchSize: mode.batchSize,
      seconds: mode.enqueueSeconds,
      rounds: mode.reps,
      warmupSeconds: mode.warmupSeconds,
    },
  };
  for (const kind of ['single', 'batch']) {
    const tasksPerRequest = kind === 'single' ? 1 : mode.batchSize;
    const path = kind === 'single' ? '/v1/tasks' : '/v1/tasks/batch';
    const options = (system, duration) => ({
      url: `${stack.urlFor(system)}${path}`,
      method: 'POST',
      headers: stack.headersFor(system),
      body: bodyFor(kind, mode.batchSize),
      connections: kind === 'single' ? mode.connections : mode.batchConnections,
      duration,
    });
    for (const system of mode.warmupSeconds > 0 ? SYSTEMS : []) {
      const warm = await autocannon(run, options(system, mode.warmupSeconds));
      if (warm['2xx'] === 0) throw new Error(`${system} ${path}: no 2xx during warm-up (non2xx ${warm.non2xx}, errors ${warm.errors})`);
    }
    const runs = { conveyor: [], baseline: [] };
    for (let round_ = 0; round_ < mode.reps; round_ += 1) {
      for (const system of SYSTEMS) {
        const result = summarise(await autocannon(run, options(system, mode.enqueueSeconds)), tasksPerRequest);
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`${system} ${path}: ${result.non2xx} non-2xx answers and ${result.errors} errors; the numbers would be meaningless`);
        }
        runs[system].push(result);
        log(
          `  enqueue ${kind.padEnd(6)} ${system.padEnd(8)} round ${round_ + 1}: ${result.requestsPerSec} req/s (${result.tasksPerSec} tasks/s), p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
        );
      }
    }
    const summary = {
      throughput: compare(runs.conveyor, runs.baseline, kind === 'single' ? 'requestsPerSec' : 'tasksPerSec'),
      p50: compare(
        runs.conveyor.map((r) => ({ v: r.latencyMs.p50 })),
        runs.baseline.map((r) => ({ v: r.latencyMs.p50 })),
        'v',
        { higherIsBetter: false },
      ),
      p99: compare(
        runs.conveyor.map((r) => ({ v: r.latencyMs.p99 })),
        runs.baseline.map((r) => ({ v: r.latencyMs.p99 })),
        'v',
        { higherIsBetter: false },
      ),
    };
    out[kind] = { path, tasksPerRequest, runs, summary };
    log(
      `enqueue ${kind}: conveyor ${summary.throughput.conveyor} vs baseline ${summary.throughput.baseline} ${summary.throughput.metric} → ratio ${summary.throughput.ratio}`,
    );
  }
  return out;
}

module.exports = { enqueuePhase, autocannon, bodyFor };
