#!/usr/bin/env node
'use strict';
/**
 * Fairness between tenants, on vs off, in one run: tenant A enqueues --a-tasks short tasks
 * (batch API), then tenant B enqueues --b-tasks, into the paused queue; one worker
 * (--concurrency) drains them all. Per mode: throughput (tasks/s for everything), when B's last
 * task ended (ms after the drain started) and how many of A's tasks ended before it. On:
 * FAIRNESS=on and TENANT_CONCURRENCY_DEFAULT=--cap; off: FAIRNESS=off. The API and the worker
 * restart with each mode (the API orders at enqueue, the worker caps); modes alternate each round.
 * Usage: node bench/fairness.js [--a-tasks 20000] [--b-tasks 100] [--concurrency 10] [--cap 8]
 *                               [--rounds 2]   (ledger on PostgreSQL)
 */
const { runMainOnProjectNode } = require('../scripts/lib/project-node');

async function main() {
  const { Run, snapshotDist } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { drain } = require('./lib/processing');
  const argv = process.argv.slice(2);
  const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const aTasks = Number(value('--a-tasks', 20000));
  const bTasks = Number(value('--b-tasks', 100));
  const concurrency = Number(value('--concurrency', 10));
  const cap = Number(value('--cap', 8));
  const rounds = Number(value('--rounds', 2));
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  try {
    await snapshotDist(run);
    const stack = await startStack(run, { dialect: 'postgres', logLevel: 'warn', log });
    const queue = stack.queues.conveyor;
    const results = { on: [], off: [] };
    for (let round = 0; round < rounds; round += 1) {
      for (const mode of round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
        Object.assign(stack.env, { FAIRNESS: mode, TENANT_CONCURRENCY_DEFAULT: mode === 'on' ? String(cap) : '0' });
        const api = await stack.startApi({ cpus: CPU.server });
        Object.assign(stack, { api: api.record, apiUrl: api.url });
        const keys = {};
        for (const tenant of ['flood-a', 'quiet-b']) {
          const response = await fetch(`${api.url}/v1/admin/keys`, {
            method: 'POST',
            headers: stack.authHeaders,
            body: JSON.stringify({ tenant, scopes: ['tasks:write', 'tasks:read'] }),
          });
          keys[tenant] = { authorization: `Bearer ${(await response.json()).key}`, 'content-type': 'application/json' };
        }
        const fill = async (tenant, count) => {
          for (let left = count; left > 0; left -= 1000) {
            const body = JSON.stringify({ tasks: Array.from({ length: Math.min(1000, left) }, () => ({ type: 'system.noop', payload: {} })) });
            const response = await fetch(`${api.url}/v1/tasks/batch`, { method: 'POST', headers: keys[tenant], body });
            if (response.status !== 202) throw new Error(`/v1/tasks/batch answered ${response.status}: ${await response.text()}`);
          }
        };
        await queue.pause();
        await fill('flood-a', aTasks);
        await fill('quiet-b', bTasks);
        const worker = await stack.startWorker({ concurrency, cpus: CPU.server });
        const started = Date.now();
        const result = await drain({ run, stack, log }, 'conveyor', aTasks + bTasks, 600_000, [worker.record.pid]);
        const [{ b_end: bEnd }] = await stack.db.query("SELECT MAX(finished_at) AS b_end FROM tasks WHERE tenant_id = 'quiet-b'");
        const [{ n: aBefore }] = await stack.db.query("SELECT COUNT(*) AS n FROM tasks WHERE tenant_id = 'flood-a' AND finished_at <= $1", [bEnd]);
        const entry = { ...result, bDoneMs: new Date(bEnd).getTime() - started, aDoneBeforeB: Number(aBefore) };
        results[mode].push(entry);
        log(
          `  round ${round} fairness ${mode.padEnd(3)}: ${entry.tasksPerSec} tasks/s (worker CPU ${entry.workerCpuUsPerTask} µs/task); B's last task ended ${entry.bDoneMs} ms in, after ${entry.aDoneBeforeB} of A's`,
        );
        await Promise.all([worker.record.stop(), api.record.stop()]);
        await stack.reset();
      }
    }
    const mean = (list, key) => list.reduce((sum, entry) => sum + entry[key], 0) / list.length;
    const on = mean(results.on, 'tasksPerSec');
    const off = mean(results.off, 'tasksPerSec');
    log(
      `fairness: on ${on.toFixed(1)} vs off ${off.toFixed(1)} tasks/s → ${(on / off).toFixed(2)}×; B done after ${Math.round(mean(results.on, 'aDoneBeforeB'))} of A's tasks (on) vs ${Math.round(mean(results.off, 'aDoneBeforeB'))} (off); ${aTasks} + ${bTasks} tasks, 1 worker × ${concurrency}, cap ${cap}`,
    );
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);
