#!/usr/bin/env node
'use strict';
/**
 * Where tracing's cost goes: a traced API under single-task enqueue load and a traced worker
 * draining `system.noop` tasks, each CPU-profiled over the loaded window (bench/lib/profile.js's
 * hook), with the spans they exported counted by service and name (the receiver decodes the
 * OTLP/HTTP JSON, so this script exports JSON whatever the deployment would use).
 * Usage: node bench/tracing-profile.js [--seconds 8] [--tasks 4000] [--concurrency 10] [--api-only] [--out DIR]
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { Run, ROOT, HOST, freePort } = require('./lib/infra');
const { startStack, CPU } = require('./lib/stack');
const { autocannon, bodyFor } = require('./lib/enqueue');
const { fill, drain } = require('./lib/processing');
const { control } = require('./lib/profile');
const { summarise } = require('./profile-summary');

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
};

/** An OTLP/HTTP JSON receiver counting spans per service and name. */
async function startReceiver() {
  const counts = new Map();
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      try {
        for (const resource of JSON.parse(Buffer.concat(chunks).toString()).resourceSpans ?? []) {
          const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '?';
          for (const scope of resource.scopeSpans ?? [])
            for (const span of scope.spans ?? []) {
              const key = `${service} ${span.name}`;
              counts.set(key, (counts.get(key) ?? 0) + 1);
            }
        }
      } catch {
        // Not JSON: counted as nothing.
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${server.address().port}`,
    take() {
      const out = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
      counts.clear();
      return out;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const perUnit = (counts, units) => Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Math.round((v / units) * 100) / 100]));

async function main() {
  const seconds = Number(arg('--seconds', 8));
  const tasks = Number(arg('--tasks', 4000));
  const concurrency = Number(arg('--concurrency', 10));
  const outDir = path.resolve(arg('--out', path.join(ROOT, 'bench', 'results', 'profiles')));
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  try {
    const stack = await startStack(run, { dialect: 'postgres', logLevel: 'info', log });
    const receiver = await startReceiver();
    run.defer('close the receiver', () => receiver.close());
    const tracingEnv = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };

    // The API twice, untraced then traced, under the same single-task enqueue load.
    for (const side of ['off', 'on']) {
      const apiProfile = { port: await freePort(), file: path.join(outDir, `${stamp}-${side === 'on' ? 'traced' : 'untraced'}-api.cpuprofile`) };
      const api = await stack.startApi({ cpus: CPU.server, profile: apiProfile, name: `api-${side}`, extraEnv: side === 'on' ? tracingEnv : {} });
      Object.assign(stack, { api: api.record, apiUrl: api.url });
      const options = { url: `${api.url}/v1/tasks`, method: 'POST', headers: stack.authHeaders, body: bodyFor('single'), connections: 50 };
      await autocannon(run, { ...options, duration: 2 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      receiver.take();
      await control(apiProfile.port, 'start');
      const result = await autocannon(run, { ...options, duration: seconds });
      await control(apiProfile.port, 'stop');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const requests = result['2xx'];
      const summary = summarise(JSON.parse(fs.readFileSync(apiProfile.file, 'utf8')));
      log(
        `API ${side}: ${Math.round(requests / result.duration)} req/s, busy ${Math.round((summary.busyMs * 1000) / requests)} µs/request; spans per request: ${JSON.stringify(perUnit(receiver.take(), requests))}`,
      );
      log(`  busy ${summary.busyMs} ms: ${summary.byOrigin.map((o) => `${o.origin} ${o.selfMs}`).join(', ')}`);
      if (side === 'off') await api.record.stop();
    }
    await stack.reset();
    if (process.argv.includes('--api-only')) return;

    await stack.queues.conveyor.pause();
    // The worker twice, untraced then traced, on the same tasks: the profiles' difference is tracing's.
    for (const side of ['off', 'on']) {
      const workerProfile = { port: await freePort(), file: path.join(outDir, `${stamp}-${side === 'on' ? 'traced' : 'untraced'}-worker.cpuprofile`) };
      const worker = await stack.startWorker({
        concurrency,
        cpus: CPU.server,
        name: `worker-${side}`,
        profile: workerProfile,
        extraEnv: side === 'on' ? tracingEnv : {},
      });
      const ctx = { run, stack, log };
      await fill(ctx, 'conveyor', 500);
      await drain(ctx, 'conveyor', 500, 120_000);
      await fill(ctx, 'conveyor', tasks);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      receiver.take();
      await control(workerProfile.port, 'start');
      const drained = await drain(ctx, 'conveyor', tasks, 300_000, [worker.record.pid]);
      await control(workerProfile.port, 'stop');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await worker.record.stop();
      const spans = receiver.take();
      const workerOnly = Object.fromEntries(Object.entries(spans).filter(([k]) => k.startsWith('conveyor-worker')));
      log(
        `worker ${side}: ${drained.tasksPerSec} tasks/s, ${drained.workerCpuUsPerTask} µs CPU/task; spans per task: ${JSON.stringify(perUnit(workerOnly, tasks))}`,
      );
      const summary = summarise(JSON.parse(fs.readFileSync(workerProfile.file, 'utf8')));
      log(`  busy ${summary.busyMs} ms: ${summary.byOrigin.map((o) => `${o.origin} ${o.selfMs}`).join(', ')}`);
    }
  } finally {
    await run.cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
