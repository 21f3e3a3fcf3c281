#!/usr/bin/env node
'use strict';
/**
 * Two builds' APIs and the bare baseline side by side on one stack, in interleaved rounds
 * (A, B, baseline, A, B, baseline, …), each round a fixed-length autocannon run against one of
 * them. Besides req/s it reports each server's CPU time per request (from /proc), which a busy
 * shared machine disturbs far less than throughput: a change that saves work shows there even
 * when the req/s of neighbouring rounds differ by 2×.
 *
 * Usage: node bench/enqueue-ab.js --a DIST_A --b DIST_B [--rounds 5] [--seconds 5] [--path single|batch]
 *                                 [--connections 50] [--db postgres|mysql] [--log-level info]
 * DIST_* are built `dist` folders (e.g. a copy of main's build and yours); each must have a
 * node_modules beside it (a symlink to the project's will do).
 */
const os = require('node:os');
const { runMainOnProjectNode } = require('../scripts/lib/project-node');
const { abArgs } = require('./lib/ab-args');

function parseArgs(argv) {
  const { value, dists } = abArgs(argv);
  return {
    dists,
    rounds: Number(value('--rounds', 5)),
    seconds: Number(value('--seconds', 5)),
    kind: value('--path', 'single'),
    connections: Number(value('--connections', value('--path', 'single') === 'batch' ? 10 : 50)),
    dialect: value('--db', 'postgres'),
    logLevel: value('--log-level', 'info'),
  };
}

async function main() {
  const { Run, useDist, cpuMs } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { autocannon, bodyFor } = require('./lib/enqueue');
  const { median, round } = require('./lib/stats');
  const options = parseArgs(process.argv.slice(2));
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  const batchSize = 100;
  const tasksPerRequest = options.kind === 'batch' ? batchSize : 1;
  try {
    const stack = await startStack(run, { dialect: options.dialect, logLevel: options.logLevel, log });
    const servers = {};
    for (const [name, dist] of Object.entries(options.dists)) {
      useDist(dist);
      const api = await stack.startApi({ cpus: CPU.server });
      servers[name] = { url: api.url, pid: api.record.pid, headers: stack.authHeaders };
    }
    const baseline = await stack.startBaselineApi({ cpus: CPU.server });
    servers.baseline = { url: baseline.url, pid: baseline.record.pid, headers: { 'content-type': 'application/json' } };
    const route = options.kind === 'batch' ? '/v1/tasks/batch' : '/v1/tasks';
    const once = async (name, seconds) => {
      const server = servers[name];
      const before = cpuMs(server.pid);
      const result = await autocannon(run, {
        url: `${server.url}${route}`,
        method: 'POST',
        headers: server.headers,
        body: bodyFor(options.kind, batchSize),
        connections: options.connections,
        duration: seconds,
      });
      const cpu = cpuMs(server.pid) - before;
      const ok = result['2xx'];
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return { reqPerSec: ok / result.duration, cpuUsPerTask: (cpu * 1000) / (ok * tasksPerRequest), p50: result.latency.p50 };
    };
    for (const name of Object.keys(servers)) await once(name, 2);
    const rows = { A: [], B: [], baseline: [] };
    for (let round_ = 1; round_ <= options.rounds; round_ += 1) {
      for (const name of Object.keys(servers)) {
        const result = await once(name, options.seconds);
        rows[name].push(result);
        log(
          `round ${round_} ${name.padEnd(8)} ${round(result.reqPerSec, 0)} req/s, ${round(result.cpuUsPerTask, 0)} µs CPU/task, p50 ${result.p50} ms, load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
      await stack.reset();
    }
    const ratios = (name) => rows[name].map((r, i) => r.reqPerSec / rows.baseline[i].reqPerSec);
    for (const name of Object.keys(rows)) {
      const line = `${name.padEnd(8)} median ${round(median(rows[name].map((r) => r.reqPerSec)), 0)} req/s, ${round(median(rows[name].map((r) => r.cpuUsPerTask)), 0)} µs CPU/task`;
      log(
        name === 'baseline'
          ? line
          : `${line}, ratio to baseline ${round(median(ratios(name)), 3)} (${ratios(name)
              .map((v) => round(v, 2))
              .join(' ')})`,
      );
    }
    const cpuAB = rows.B.map((r, i) => r.cpuUsPerTask / rows.A[i].cpuUsPerTask);
    log(`B/A CPU per task: median ${round(median(cpuAB), 3)} (${cpuAB.map((v) => round(v, 2)).join(' ')})`);
  } catch (error) {
    run.failed = true;
    throw error;
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);
