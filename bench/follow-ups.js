#!/usr/bin/env node
'use strict';
/**
 * The cost of a follow-up: tasks/s of two-step chains (a `system.sleep` of 0 ms whose handler
 * asks for one `system.noop` follow-up, written with its completion and queued after the
 * commit) against the same number of single tasks (`system.sleep` of 0 ms, no follow-up), in
 * the same run, same worker, alternating rounds. Both drain N tasks in all: N singles, or N/2
 * parents + N/2 follow-ups. A ratio near 1 means a follow-up costs about what a task costs.
 * Usage: node bench/follow-ups.js [--tasks 4000] [--concurrency 10] [--rounds 3] [--db postgres|mysql]
 */
const { runMainOnProjectNode } = require('../scripts/lib/project-node');

async function main() {
  const { Run, snapshotDist } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { drain } = require('./lib/processing');
  const { compare } = require('./lib/stats');
  const argv = process.argv.slice(2);
  const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const tasks = Number(value('--tasks', 4000));
  const concurrency = Number(value('--concurrency', 10));
  const rounds = Number(value('--rounds', 3));
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  try {
    await snapshotDist(run);
    const stack = await startStack(run, { dialect: value('--db', 'postgres'), logLevel: 'warn', log });
    const api = await stack.startApi({ cpus: CPU.server });
    Object.assign(stack, { api: api.record, apiUrl: api.url });
    const worker = await stack.startWorker({ concurrency, cpus: CPU.server });
    const ctx = { run, stack, log };
    const queue = stack.queues.conveyor;
    const fill = async (task, count) => {
      for (let left = count; left > 0; left -= 1000) {
        const body = JSON.stringify({ tasks: Array.from({ length: Math.min(1000, left) }, () => task) });
        const response = await fetch(`${stack.apiUrl}/v1/tasks/batch`, { method: 'POST', headers: stack.authHeaders, body });
        if (response.status !== 202) throw new Error(`/v1/tasks/batch answered ${response.status}: ${await response.text()}`);
      }
    };
    const shapes = {
      single: { task: { type: 'system.sleep', payload: { ms: 0 } }, enqueued: tasks },
      chain: { task: { type: 'system.sleep', payload: { ms: 0, followUps: 1 } }, enqueued: tasks / 2 },
    };
    const runs = { single: [], chain: [] };
    for (let round = 0; round <= rounds; round += 1) {
      for (const [name, shape] of Object.entries(shapes)) {
        await queue.pause();
        await fill(shape.task, shape.enqueued);
        const result = await drain(ctx, 'conveyor', tasks, 120_000, [worker.record.pid]);
        if (round > 0) runs[name].push(result); // round 0 warms up
        log(`  ${name.padEnd(6)} round ${round}${round === 0 ? ' (warm-up)' : ''}: ${result.tasksPerSec} tasks/s (${tasks} tasks in ${result.seconds} s)`);
      }
    }
    const rows = await stack.db.query("SELECT COUNT(*) AS n FROM tasks WHERE status = 'completed'");
    const expected = (rounds + 1) * 2 * tasks;
    if (Number(rows[0].n) !== expected) throw new Error(`ledger: ${rows[0].n} completed tasks, expected ${expected}`);
    const summary = compare(runs.chain, runs.single, 'tasksPerSec');
    log(`follow-ups: chains ${summary.conveyor} vs single tasks ${summary.baseline} tasks/s → ratio ${summary.ratio} (1 process × concurrency ${concurrency})`);
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);
