#!/usr/bin/env node
'use strict';
/**
 * Quick whole-path measurement for the spine, now a thin front of the benchmark suite
 * (bench/run.js): the built API and worker as processes (own database, own queue prefix),
 * N `system.noop` tasks enqueued through POST /v1/tasks/batch and drained by one worker,
 * next to raw BullMQ in the same run, plus the apps' idle and loaded RSS.
 * Usage: node bench/spine-throughput.js [--tasks 20000] [--concurrency 50] [--db postgres|mysql]
 * Results go to a temporary folder (bench/results/latest.json is left alone).
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { reexecOnProjectNode } = require('../scripts/lib/project-node');

if (!reexecOnProjectNode()) {
  const argv = process.argv.slice(2);
  const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const tasks = Number(value('--tasks', 20000));
  const concurrency = Number(value('--concurrency', 50));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'conveyor-spine-'));
  try {
    execFileSync(
      process.execPath,
      [
        path.join(__dirname, 'run.js'),
        '--only',
        'processing',
        '--processing',
        `1x${concurrency}:${tasks}`,
        '--reps',
        '1',
        '--db',
        value('--db', 'postgres'),
        '--out',
        out,
        '--no-docs',
      ],
      { stdio: 'inherit' },
    );
    const result = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'));
    const [config] = result.processing.configs;
    console.log(
      JSON.stringify(
        {
          db: result.settings.dialect,
          tasks,
          workerConcurrency: concurrency,
          tasksPerSecond: config.summary.conveyor,
          rawBullmqTasksPerSecond: config.summary.baseline,
          ratio: config.summary.ratio,
          apiRssMb: result.rssMb.apiIdle,
          workerRssMb: config.workerRssMb,
        },
        null,
        2,
      ),
    );
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
