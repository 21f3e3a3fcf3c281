'use strict';
/**
 * Tracing overhead: the enqueue and processing benchmarks with tracing off (no OTEL_*: the
 * stack's API and a worker as deployed by default) and on (every trace sampled, exported over
 * OTLP/HTTP protobuf to a receiver in this process), in interleaved rounds on the same core.
 * The "on" side has its own API, worker and queue prefix (same database and Redis), so both
 * stay up and a round costs no restart. Reported as on/off ratios (overhead = 1 − ratio).
 */
const http = require('node:http');
const { Queue } = require('bullmq');
const { CPU } = require('./stack');
const { autocannon, bodyFor } = require('./enqueue');
const { fill, drain } = require('./processing');
const { compare, round } = require('./stats');
const { HOST, cpuMs, redisOptions, registerPrefix, uniqueName, sleep } = require('./infra');
const { QUEUE } = require('./baseline-job');

/** A stand-in OTLP collector: takes every export, counts it, answers 200. */
async function startReceiver() {
  const received = { requests: 0, bytes: 0 };
  const server = http.createServer((request, response) => {
    request.on('data', (chunk) => (received.bytes += chunk.length));
    request.on('end', () => {
      received.requests += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return { received, url: `http://${HOST}:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

const overhead = (summary) => (summary.ratio === null ? null : round((1 - summary.ratio) * 100, 1));
/** Extra CPU per task with tracing on, in % of the CPU with it off (median of the paired rounds). */
const cpuOverhead = (cpu) => (cpu.ratio === null ? null : round((cpu.ratio - 1) * 100, 1));

async function tracingPhase(ctx) {
  const { run, stack, mode, log } = ctx;
  const settings = mode.tracing;
  const receiver = await startReceiver();
  run.defer('close the OTLP receiver', () => receiver.close());
  const onPrefix = registerPrefix(run, uniqueName('bench_cv_trace'));
  const tracingEnv = {
    QUEUE_PREFIX: onPrefix,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    ...(settings.sampleRatio === undefined ? {} : { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(settings.sampleRatio) }),
  };
  const onQueue = new Queue(QUEUE, { connection: { ...redisOptions(), maxRetriesPerRequest: null }, prefix: onPrefix });
  run.defer('close the traced queue client', () => onQueue.close().catch(() => undefined));
  const apiOn = await stack.startApi({ cpus: CPU.server, name: 'api-traced', extraEnv: tracingEnv });
  const urls = { off: stack.apiUrl, on: apiOn.url };
  const apiPids = { off: stack.api.pid, on: apiOn.record.pid };
  const out = {
    settings: {
      ...settings,
      rounds: mode.reps,
      exporter: 'otlp http/protobuf to a local receiver',
      sampled: settings.sampleRatio === undefined ? 'every trace' : `parentbased_traceidratio ${settings.sampleRatio}`,
    },
  };

  // Enqueue: autocannon on POST /v1/tasks and /v1/tasks/batch of each API in turn.
  for (const kind of ['single', 'batch']) {
    const path = kind === 'single' ? '/v1/tasks' : '/v1/tasks/batch';
    const options = (side, duration) => ({
      url: `${urls[side]}${path}`,
      method: 'POST',
      headers: stack.authHeaders,
      body: bodyFor(kind, mode.batchSize),
      connections: kind === 'single' ? mode.connections : mode.batchConnections,
      duration,
    });
    const perRequest = kind === 'single' ? 1 : mode.batchSize;
    for (const side of mode.warmupSeconds > 0 ? ['off', 'on'] : []) await autocannon(run, options(side, mode.warmupSeconds));
    const runs = { off: [], on: [] };
    for (let round_ = 0; round_ < mode.reps; round_ += 1) {
      for (const side of ['off', 'on']) {
        const cpuBefore = cpuMs(apiPids[side]);
        const result = await autocannon(run, options(side, mode.enqueueSeconds));
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`tracing ${side} ${path}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
        const tasks = result['2xx'] * perRequest;
        const tasksPerSec = round(tasks / result.duration, 1);
        // The API's CPU per task: steadier than throughput on a loaded machine.
        const apiCpuUsPerTask = cpuBefore === null ? null : round(((cpuMs(apiPids[side]) - cpuBefore) * 1000) / tasks, 1);
        runs[side].push({ tasksPerSec, p99Ms: result.latency.p99, apiCpuUsPerTask });
        log(
          `  tracing enqueue ${kind.padEnd(6)} ${side.padEnd(3)} round ${round_ + 1}: ${tasksPerSec} tasks/s, p99 ${result.latency.p99} ms (API CPU ${apiCpuUsPerTask} µs/task)`,
        );
      }
    }
    const summary = compare(runs.on, runs.off, 'tasksPerSec');
    const cpu = compare(runs.on, runs.off, 'apiCpuUsPerTask', { higherIsBetter: false });
    out[`enqueue_${kind}`] = { runs, summary, apiCpuUsPerTask: cpu, overheadPct: overhead(summary), cpuOverheadPct: cpuOverhead(cpu) };
    log(
      `tracing enqueue ${kind}: on ${summary.conveyor} vs off ${summary.baseline} tasks/s → ratio ${summary.ratio} (overhead ${overhead(summary)} %); ` +
        `API CPU ${cpu.conveyor} vs ${cpu.baseline} µs/task (+${cpuOverhead(cpu)} %)`,
    );
  }
  await Promise.all([stack.reset(), onQueue.obliterate({ force: true })]);

  // Processing: N system.noop tasks enqueued through each side's API, drained by its worker.
  const { concurrency, tasks } = settings;
  const [workerOff, workerOn] = await Promise.all([
    stack.startWorker({ concurrency, cpus: CPU.server, name: 'worker-untraced' }),
    stack.startWorker({ concurrency, cpus: CPU.server, name: 'worker-traced', extraEnv: tracingEnv }),
  ]);
  const sides = {
    off: { queue: stack.queues.conveyor, prefix: stack.prefixes.conveyor, apiUrl: urls.off, pid: workerOff.record.pid },
    on: { queue: onQueue, prefix: onPrefix, apiUrl: urls.on, pid: workerOn.record.pid },
  };
  // processing.js's fill and drain, pointed at one side (they work on the `conveyor` system).
  const view = (side) => ({
    ...ctx,
    filledIds: undefined,
    stack: { ...stack, apiUrl: sides[side].apiUrl, queues: { conveyor: sides[side].queue }, prefixes: { conveyor: sides[side].prefix } },
  });
  const timeoutMs = Math.max(60_000, tasks * 20);
  try {
    await Promise.all(Object.values(sides).map((side) => side.queue.pause()));
    for (const side of ['off', 'on']) {
      const warm = Math.min(tasks, mode.warmupTasks);
      await fill(view(side), 'conveyor', warm);
      await drain(view(side), 'conveyor', warm, timeoutMs);
    }
    const runs = { off: [], on: [] };
    for (let round_ = 0; round_ < mode.reps; round_ += 1) {
      for (const side of ['off', 'on']) {
        await fill(view(side), 'conveyor', tasks);
        await sleep(200);
        const result = await drain(view(side), 'conveyor', tasks, timeoutMs, [sides[side].pid]);
        runs[side].push(result);
        log(
          `  tracing processing c${concurrency} ${side.padEnd(3)} round ${round_ + 1}: ${result.tasksPerSec} tasks/s (worker CPU ${result.workerCpuUsPerTask} µs/task)`,
        );
      }
    }
    const summary = compare(runs.on, runs.off, 'tasksPerSec');
    const cpu = compare(runs.on, runs.off, 'workerCpuUsPerTask', { higherIsBetter: false });
    out.processing = { runs, summary, workerCpuUsPerTask: cpu, overheadPct: overhead(summary), cpuOverheadPct: cpuOverhead(cpu) };
    log(
      `tracing processing: on ${summary.conveyor} vs off ${summary.baseline} tasks/s → ratio ${summary.ratio} (overhead ${overhead(summary)} %); ` +
        `worker CPU ${cpu.conveyor} vs ${cpu.baseline} µs/task (+${cpuOverhead(cpu)} %)`,
    );
  } finally {
    await Promise.all([workerOff.record.stop(), workerOn.record.stop(), apiOn.record.stop()]);
    await onQueue.obliterate({ force: true }).catch(() => undefined);
  }
  out.exported = { ...receiver.received };
  if (receiver.received.requests === 0) throw new Error('tracing on exported nothing to the receiver: the "on" numbers would measure nothing');
  return out;
}

module.exports = { tracingPhase };
