'use strict';
/**
 * CPU profiles under load (optional `--profile`): a second API process with the profile hook
 * preloaded takes autocannon `POST /v1/tasks` load; a worker with the hook drains pre-enqueued
 * tasks. Only the loaded window is sampled (boot excluded). Profiles land next to the result
 * JSON and are summarised by bench/profile-summary.js.
 */
const path = require('node:path');
const fs = require('node:fs');
const { CPU } = require('./stack');
const { autocannon, bodyFor } = require('./enqueue');
const { fill, drain } = require('./processing');
const { freePort } = require('./infra');
const { summarise } = require('../profile-summary');

/** Starts or stops the CPU profiler of a process launched with the profile hook (cpu-profile-hook.js). */
async function control(port, action) {
  const response = await fetch(`http://127.0.0.1:${port}/${action}`, { method: 'POST' });
  if (!response.ok) throw new Error(`profile ${action}: ${response.status} ${await response.text()}`);
  return response.text();
}

async function profilePhase(ctx, outDir, stamp) {
  const { stack, mode, log, run } = ctx;
  fs.mkdirSync(outDir, { recursive: true });
  const out = {};

  // API under enqueue load: single tasks, then batches (one profile each).
  for (const kind of ['single', 'batch']) {
    const profile = { port: await freePort(), file: path.join(outDir, `${stamp}-api-${kind}.cpuprofile`) };
    const api = await stack.startApi({ cpus: CPU.server, profile });
    try {
      const options = {
        url: `${api.url}${kind === 'single' ? '/v1/tasks' : '/v1/tasks/batch'}`,
        method: 'POST',
        headers: stack.authHeaders,
        body: bodyFor(kind, mode.batchSize),
        connections: kind === 'single' ? mode.connections : mode.batchConnections,
      };
      if (mode.warmupSeconds > 0) await autocannon(run, { ...options, duration: mode.warmupSeconds });
      await control(profile.port, 'start');
      const result = await autocannon(run, { ...options, duration: mode.profileSeconds });
      await control(profile.port, 'stop');
      const perSec = Math.round(result['2xx'] / result.duration);
      const key = kind === 'single' ? 'api' : 'apiBatch';
      out[key] = {
        file: path.relative(process.cwd(), profile.file),
        load: kind === 'single' ? `${perSec} req/s on POST /v1/tasks` : `${perSec} req/s (${perSec * mode.batchSize} tasks/s) on POST /v1/tasks/batch`,
        ...summarise(JSON.parse(fs.readFileSync(profile.file, 'utf8'))),
      };
      log(`profile: API ${out[key].load}; busy ${out[key].busyMs} ms; ${profile.file}`);
    } finally {
      await api.record.stop();
    }
    await stack.reset();
  }

  // Worker draining tasks at concurrency 50.
  await stack.queues.conveyor.pause();
  const workerProfile = { port: await freePort(), file: path.join(outDir, `${stamp}-worker.cpuprofile`) };
  const worker = await stack.startWorker({ concurrency: mode.profileConcurrency, cpus: CPU.server, name: 'worker-profiled', profile: workerProfile });
  try {
    await fill(ctx, 'conveyor', mode.warmupTasks);
    await drain(ctx, 'conveyor', mode.warmupTasks, 120_000);
    await fill(ctx, 'conveyor', mode.profileTasks);
    await control(workerProfile.port, 'start');
    const result = await drain(ctx, 'conveyor', mode.profileTasks, 300_000);
    await control(workerProfile.port, 'stop');
    out.worker = {
      file: path.relative(process.cwd(), workerProfile.file),
      load: `${result.tasksPerSec} tasks/s at concurrency ${mode.profileConcurrency}`,
      ...summarise(JSON.parse(fs.readFileSync(workerProfile.file, 'utf8'))),
    };
    log(`profile: worker ${out.worker.load}; busy ${out.worker.busyMs} ms; ${workerProfile.file}`);
  } finally {
    await worker.record.stop();
  }
  return out;
}

module.exports = { profilePhase, control };
