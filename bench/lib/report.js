'use strict';
/**
 * Turns a result JSON into docs/benchmarks.md (the part between the generated-block markers;
 * the hand-written text around it is kept) and SVG charts in docs/img/ (vega-lite → vega →
 * SVG, no browser). Also a CLI: `node bench/lib/report.js bench/results/latest.json`.
 */
const fs = require('node:fs');
const path = require('node:path');
const { writeGeneratedPage } = require('./generated-page');

const BEGIN = '<!-- bench:generated:begin (written by bench/lib/report.js; edit outside these markers) -->';
const END = '<!-- bench:generated:end -->';

const TARGETS = { enqueue: 0.6, processing: 0.8, latencyP99Ms: 20, sseQuietReadsPerSec: 1 };

function checkTargets(results) {
  const targets = [];
  const idle = results.idle;
  if (idle) {
    for (const side of ['worker', 'api']) {
      const { rssMb } = idle[side];
      targets.push({
        name: `idle RSS of the ${side === 'api' ? 'API' : 'worker'} ${idle.afterSeconds} s after boot`,
        target: `≤ ${idle.targetsMb[side]} MB`,
        actual: `${rssMb} MB`,
        met: typeof rssMb === 'number' && rssMb <= idle.targetsMb[side],
      });
    }
  }
  const sse = results.sse;
  if (sse) {
    targets.push({
      name: `ledger reads with ${sse.streams} open event streams, nothing changing`,
      target: `≈ 0/s (≤ ${TARGETS.sseQuietReadsPerSec}/s)`,
      actual: `${sse.quiet.readsPerSec}/s`,
      met: sse.quiet.readsPerSec <= TARGETS.sseQuietReadsPerSec,
    });
    targets.push({
      name: `Last-Event-ID resumption with ${sse.streams} streams open`,
      target: 'works',
      actual: sse.resumption.ok ? 'works' : 'failed',
      met: sse.resumption.ok,
    });
  }
  const single = results.enqueue?.single?.summary.throughput;
  if (single)
    targets.push({
      name: 'enqueue POST /v1/tasks vs bare Fastify + queue.add',
      short: 'enqueue, one task per request',
      target: `≥ ${TARGETS.enqueue}×`,
      actual: `${single.ratio}×`,
      met: single.ratio >= TARGETS.enqueue,
    });
  const batch = results.enqueue?.batch?.summary.throughput;
  if (batch)
    targets.push({
      name: 'enqueue POST /v1/tasks/batch vs addBulk',
      short: `enqueue, batches of ${results.enqueue.batch.tasksPerRequest}`,
      target: `≥ ${TARGETS.enqueue}×`,
      actual: `${batch.ratio}×`,
      met: batch.ratio >= TARGETS.enqueue,
    });
  for (const config of results.processing?.configs ?? []) {
    targets.push({
      name: `processing ${config.procs} process${config.procs > 1 ? 'es' : ''} × concurrency ${config.concurrency} vs raw BullMQ`,
      short: `processing ${config.procs} × c${config.concurrency}`,
      target: `≥ ${TARGETS.processing}×`,
      actual: `${config.summary.ratio}×`,
      met: config.summary.ratio >= TARGETS.processing,
    });
  }
  const p99 = results.latency?.conveyor?.endToEndMs.p99;
  if (p99 !== undefined)
    targets.push({
      name: `end-to-end p99 at ${results.latency.rate} tasks/s`,
      target: `≤ ${TARGETS.latencyP99Ms} ms`,
      actual: `${p99} ms`,
      met: p99 <= TARGETS.latencyP99Ms,
    });
  return targets;
}

const fmt = (value, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );
}

function markdown(results, charts) {
  const env = results.environment;
  const out = [];
  out.push(
    `Run: **${results.mode}** mode, ${results.startedAt.replace('T', ' ').slice(0, 16)} UTC, ${fmt(results.durationSec)} s, ledger on **${env.database.dialect}**, \`LOG_LEVEL=${results.settings.logLevel}\`.`,
  );
  out.push('');
  out.push('### Targets');
  out.push('');
  out.push(
    table(
      ['what', 'target', 'measured', ''],
      results.targets.map((t) => [t.name, t.target, t.actual, t.met ? 'met' : '**missed**']),
    ),
  );
  if (results.enqueue) {
    const e = results.enqueue;
    out.push('', '### Enqueue', '');
    out.push(
      `autocannon, ${e.settings.connections} connections (batch: ${e.settings.batchConnections}, ${e.settings.batchSize} tasks per request), ${e.settings.rounds} interleaved rounds of ${e.settings.seconds} s after a ${e.settings.warmupSeconds} s warm-up each; medians; ratio = median of the per-round ratios.`,
      '',
    );
    const rows = [];
    for (const kind of ['single', 'batch']) {
      const s = e[kind].summary;
      const unit = kind === 'single' ? 'req/s' : 'tasks/s';
      rows.push([
        `\`POST ${e[kind].path}\` (${unit})`,
        fmt(s.throughput.conveyor),
        fmt(s.throughput.baseline),
        `**${fmt(s.throughput.ratio, 2)}×**`,
        `${fmt(s.p50.conveyor)} / ${fmt(s.p99.conveyor)}`,
        `${fmt(s.p50.baseline)} / ${fmt(s.p99.baseline)}`,
      ]);
    }
    out.push(table(['endpoint', 'Conveyor', 'baseline', 'ratio', 'Conveyor p50 / p99 ms', 'baseline p50 / p99 ms'], rows));
    out.push(
      '',
      'Baseline: bare Fastify 5 + one BullMQ `Queue` doing `queue.add` / `addBulk` with the same job options (priority, attempts, backoff, retention), no Nest, no auth, no ledger.',
    );
  }
  if (results.processing) {
    const p = results.processing;
    out.push('', '### Processing', '');
    out.push(
      `Pre-enqueued \`system.noop\` tasks drained from a paused queue; clock from \`resume()\` to the last job's finish time in Redis. ${p.settings.rounds} interleaved rounds per row after a warm-up drain; medians. Ledger check: ${fmt(p.ledgerCheck.completed)} rows \`completed\` of ${fmt(p.ledgerCheck.expected)} drained by Conveyor${
        Object.keys(p.ledgerCheck.otherRows ?? {}).length > 0
          ? ` (other rows, not counted: ${Object.entries(p.ledgerCheck.otherRows)
              .map(([status, n]) => `${n} ${status}`)
              .join(', ')}; the workers' scheduled housekeeping runs wait on the \`maintenance\` queue, which the bench's workers do not serve)`
          : ''
      }.${p.peerCheck ? ` graphile-worker ran ${fmt(p.peerCheck.ran)} jobs of ${fmt(p.peerCheck.expected)} added.` : ''}`,
      '',
    );
    const peer = p.configs.some((c) => c.peer);
    out.push(
      table(
        [
          'processes × concurrency',
          'tasks per round',
          'Conveyor tasks/s',
          'raw BullMQ tasks/s',
          'ratio',
          ...(peer ? ['graphile-worker tasks/s', 'graphile-worker ÷ raw', 'Conveyor ÷ graphile-worker'] : []),
          `worker CPU µs/task (Conveyor / raw${peer ? ' / graphile-worker' : ''})`,
          `worker busy % (Conveyor / raw${peer ? ' / graphile-worker' : ''})`,
        ],
        p.configs.map((c) => [
          `${c.procs} × ${c.concurrency}`,
          fmt(c.tasks),
          fmt(c.summary.conveyor),
          fmt(c.summary.baseline),
          `**${fmt(c.summary.ratio, 2)}×**`,
          ...(peer ? (c.peer ? [fmt(c.peer.vsRaw.peer), `${fmt(c.peer.vsRaw.ratio, 2)}×`, `${fmt(c.peer.conveyorVsPeer.ratio, 2)}×`] : ['–', '–', '–']) : []),
          c.workerCpuUsPerTask
            ? [c.workerCpuUsPerTask.conveyor, c.workerCpuUsPerTask.baseline, ...(peer ? [c.peer?.workerCpuUsPerTask.peer] : [])].map((v) => fmt(v)).join(' / ')
            : '–',
          c.workerCpuPct
            ? [c.workerCpuPct.conveyor, c.workerCpuPct.baseline, ...(peer ? [c.peer?.workerCpuPct.peer] : [])].map((v) => fmt(v)).join(' / ')
            : '–',
        ]),
      ),
    );
    out.push(
      '',
      "Worker busy % = the worker processes' CPU time over the drain's wall time (per process): well below 100 % means the worker waits (on Redis or on the ledger), not computes.",
    );
    if (p.peer?.skipped) out.push('', `graphile-worker not measured in this run: ${p.peer.skipped}.`);
    else if (p.peer)
      out.push(
        '',
        `Peer: graphile-worker ${p.peer.version} in batched mode (local queue of ${p.peer.settings.localQueueSize} jobs, \`completeJobBatchDelay\` and \`failJobBatchDelay\` 0, pool ${p.peer.settings.maxPoolSize}), its own database on the same PostgreSQL server, the same number of no-op jobs (\`maxAttempts\` 1) added with \`addJobs\` in one transaction committed at the start of the clock, the same processes, concurrency and pinning; clock from COMMIT to the last job's completion written; rounds interleaved with the other two.`,
      );
  }
  if (results.latency) {
    const l = results.latency;
    out.push('', '### End-to-end latency', '');
    out.push(
      `Open-loop \`POST /v1/tasks\` at **${fmt(l.rate)} tasks/s** for ${l.seconds} s (${l.basis}); one worker at concurrency ${l.concurrency}; latency = job completed in Redis − scheduled send time; processes unpinned.`,
      '',
    );
    const row = (name, r) => [
      name,
      fmt(r.endToEndMs.p50, 1),
      fmt(r.endToEndMs.p95, 1),
      fmt(r.endToEndMs.p99, 1),
      fmt(r.enqueueAckMs.p50, 1),
      fmt(r.enqueueAckMs.p99, 1),
      `${fmt(r.accepted)} / ${fmt(r.requested)}`,
    ];
    out.push(
      table(
        ['system', 'p50 ms', 'p95 ms', 'p99 ms', 'enqueue answer p50 ms', 'enqueue answer p99 ms', 'completed / sent'],
        [row('Conveyor', l.conveyor), row('raw BullMQ (baseline API + worker)', l.baseline)],
      ),
    );
    if (l.conveyor.ledgerMs)
      out.push(
        '',
        `Ledger view (\`finished_at − created_at\`, Conveyor only): p50 ${fmt(l.conveyor.ledgerMs.p50, 1)} ms, p95 ${fmt(l.conveyor.ledgerMs.p95, 1)} ms, p99 ${fmt(l.conveyor.ledgerMs.p99, 1)} ms.`,
      );
  }
  if (results.idle) {
    const i = results.idle;
    out.push('', '### Idle memory', '');
    out.push(
      `Resident memory (\`VmRSS\` from \`/proc\`) ${i.afterSeconds} s after each process finished booting (answered its readiness probe; the time to ready is in the table), nothing queued, \`NODE_ENV=production\`: the run's API before any request reached it, and a worker with the app's default queues and concurrency started for this alone. Own = \`RssAnon\` (heaps, buffers), mapped files = \`RssFile\` (mostly the node binary's code, shared by every node process on the machine); peak = \`VmHWM\` so far; idle CPU = CPU used from ready to the reading, as % of one core.`,
      '',
    );
    const row = (name, r, target) => [
      name,
      `**${fmt(r.rssMb, 1)} MB**`,
      `≤ ${target} MB`,
      `${fmt(r.anonMb, 1)} / ${fmt(r.fileMb, 1)} MB`,
      `${fmt(r.peakRssMb, 1)} MB`,
      `${fmt(r.readyMs)} ms`,
      `${fmt(r.idleCpuPct, 2)} %`,
    ];
    out.push(
      table(
        ['process', `RSS ${i.afterSeconds} s after boot`, 'target', 'of which own / mapped files', 'peak RSS', 'ready after', 'idle CPU'],
        [row('worker', i.worker, i.targetsMb.worker), row('API', i.api, i.targetsMb.api)],
      ),
    );
  }
  if (results.sse) {
    const e = results.sse;
    const r = e.resumption;
    out.push('', '### Event streams at rest', '');
    out.push(
      `${fmt(e.streams)} \`GET /v1/tasks/:id/events\` streams open at once on one API process (one queued task each, no worker running, so nothing changes), opened in ${fmt(e.openSeconds, 1)} s with ${fmt(e.readsToOpen)} ledger reads (one per stream). Then ${fmt(e.quiet.seconds, 1)} s of quiet: ledger reads counted by \`conveyor_event_stream_reads_total\`, the API's CPU from \`/proc\`.`,
      '',
    );
    out.push(
      table(
        ['streams open', 'ledger reads/s', 'reads in the window', 'API CPU', 'API RSS before → with streams', 'per stream', 'events sent in the window'],
        [
          [
            fmt(e.quiet.streamsOpen),
            `**${fmt(e.quiet.readsPerSec, 2)}**`,
            fmt(e.quiet.reads),
            `${fmt(e.quiet.apiCpuPct, 2)} %`,
            `${fmt(e.apiRssMb.before, 1)} → ${fmt(e.apiRssMb.withStreams, 1)} MB`,
            `${fmt(e.apiRssMb.perStreamKb, 1)} KB`,
            fmt(e.quiet.eventsReceived),
          ],
        ],
      ),
    );
    out.push(
      '',
      `\`Last-Event-ID\` resumption with the other streams open (${r.ok ? 'all as expected' : '**not as expected**'}): reconnecting with the last id seen sent nothing again on ${fmt(r.unchanged.streams - r.unchanged.replayed)} of ${fmt(r.unchanged.streams)} streams, and the task's later cancellation arrived on ${fmt(r.unchanged.changeDelivered)} of them (p50 ${fmt(r.pushAfterCancelMs.p50, 1)} ms, p99 ${fmt(r.pushAfterCancelMs.p99, 1)} ms after the cancel was sent); a task cancelled while its client was away came back at once with its new status on ${fmt(r.changed.newStatusAtOnce)} of ${fmt(r.changed.streams)}; an outdated id brought the current status, unchanged id, on ${fmt(r.stale.currentStatusAtOnce)} of ${fmt(r.stale.streams)}.`,
    );
  }
  if (results.profile) {
    out.push('', '### CPU profile (top self time)', '');
    const titles = { api: 'API', apiBatch: 'API (batch)', worker: 'Worker' };
    for (const side of ['api', 'apiBatch', 'worker']) {
      const prof = results.profile[side];
      if (!prof) continue;
      out.push(
        `**${titles[side]}** under ${prof.load}: by origin ${prof.byOrigin
          .slice(0, 6)
          .map((o) => `${o.origin} ${o.pctOfBusy} %`)
          .join(', ')}.`,
        '',
      );
      out.push(
        table(
          ['function', 'where', '% of busy'],
          prof.topFunctions.slice(0, 10).map((f) => [`\`${f.function}\``, `\`${f.location}\``, fmt(f.pctOfBusy, 1)]),
        ),
      );
      out.push('');
    }
  }
  if (charts.length > 0) {
    out.push('', '### Charts', '');
    for (const chart of charts) out.push(`![${chart.title}](img/${chart.file})`, '');
  }
  out.push('', '### Environment', '');
  const m = env.machine;
  out.push(
    `${m.cores} cores (${m.model}), ${m.memoryGb} GB, ${m.platform}; load average ${m.loadAverageAtStart.join(' / ')} at start, ${(m.loadAverageAtEnd ?? []).join(' / ')} at end (other engineers' tests share the machine).`,
  );
  out.push(
    `Node ${env.node}, Redis ${env.redis}, ${env.database.version?.split(' on ')[0] ?? env.database.dialect}; ${Object.entries(env.packages)
      .filter(([, v]) => v)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; git ${env.git.commit}${env.git.dirty ? ' (uncommitted changes)' : ''}.`,
  );
  out.push(
    `Pinning: ${Object.entries(results.pinning)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
  );
  return out.join('\n');
}

function chartSpecs(results) {
  const specs = [];
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 420, height: 220, config: { font: 'sans-serif', background: 'white' } };
  const color = { field: 'system', type: 'nominal', scale: { domain: ['Conveyor', 'baseline'], range: ['#4c78a8', '#9ecae9'] }, title: null };
  const withPeer = { ...color, scale: { domain: ['Conveyor', 'baseline', 'graphile-worker'], range: ['#4c78a8', '#9ecae9', '#f58518'] } };
  if (results.enqueue) {
    const values = [];
    for (const kind of ['single', 'batch']) {
      const s = results.enqueue[kind].summary.throughput;
      const label = kind === 'single' ? 'POST /v1/tasks' : `POST /v1/tasks/batch (×${results.enqueue.batch.tasksPerRequest})`;
      values.push({ endpoint: label, system: 'Conveyor', tasks: s.conveyor }, { endpoint: label, system: 'baseline', tasks: s.baseline });
    }
    specs.push({
      file: 'bench-enqueue.svg',
      title: 'Enqueue throughput (tasks/s)',
      spec: {
        ...base,
        title: 'Enqueue: tasks/s (median), Conveyor vs bare Fastify + BullMQ',
        data: { values },
        mark: 'bar',
        encoding: {
          y: { field: 'endpoint', type: 'nominal', title: null },
          yOffset: { field: 'system' },
          x: { field: 'tasks', type: 'quantitative', title: 'tasks/s' },
          color,
        },
      },
    });
  }
  if (results.processing) {
    const values = results.processing.configs.flatMap((c) => [
      { config: `${c.procs} × c${c.concurrency}`, system: 'Conveyor', tasks: c.summary.conveyor },
      { config: `${c.procs} × c${c.concurrency}`, system: 'baseline', tasks: c.summary.baseline },
      ...(c.peer ? [{ config: `${c.procs} × c${c.concurrency}`, system: 'graphile-worker', tasks: c.peer.vsRaw.peer }] : []),
    ]);
    const peer = results.processing.configs.some((c) => c.peer);
    specs.push({
      file: 'bench-processing.svg',
      title: 'Processing throughput (tasks/s)',
      spec: {
        ...base,
        title: `Processing: tasks/s (median), Conveyor worker + ledger vs raw BullMQ Worker${peer ? ' and graphile-worker' : ''}`,
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'config', type: 'nominal', title: 'processes × concurrency', sort: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'system', sort: null },
          y: { field: 'tasks', type: 'quantitative', title: 'tasks/s' },
          color: peer ? withPeer : color,
        },
      },
    });
  }
  if (results.latency) {
    const values = [];
    for (const [system, r] of [
      ['Conveyor', results.latency.conveyor],
      ['baseline', results.latency.baseline],
    ]) {
      for (const q of ['p50', 'p95', 'p99']) values.push({ percentile: q, system, ms: r.endToEndMs[q] });
    }
    specs.push({
      file: 'bench-latency.svg',
      title: 'End-to-end latency (ms)',
      spec: {
        ...base,
        title: `Enqueue → completed at ${results.latency.rate} tasks/s (ms)`,
        data: { values },
        layer: [
          {
            mark: 'bar',
            encoding: {
              x: { field: 'percentile', type: 'ordinal', title: null, axis: { labelAngle: 0 } },
              xOffset: { field: 'system' },
              y: { field: 'ms', type: 'quantitative', title: 'ms' },
              color,
            },
          },
          { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] }, encoding: { y: { datum: TARGETS.latencyP99Ms } } },
        ],
      },
    });
  }
  const ratios = (results.targets ?? [])
    .filter((t) => t.actual.endsWith('×'))
    .map((t) => ({
      what: t.short ?? t.name.replace(/ vs .*$/, ''),
      ratio: Number(t.actual.replace('×', '')),
      target: Number(t.target.replace(/[^\d.]/g, '')),
    }));
  if (ratios.length > 0) {
    specs.push({
      file: 'bench-ratios.svg',
      title: 'Conveyor / baseline ratios against the targets',
      spec: {
        ...base,
        height: 24 * ratios.length,
        title: 'Conveyor ÷ baseline (1 = as fast as raw BullMQ; ticks = targets)',
        data: { values: ratios },
        layer: [
          {
            mark: 'bar',
            encoding: {
              y: { field: 'what', type: 'nominal', sort: null, title: null, axis: { labelLimit: 260 } },
              x: { field: 'ratio', type: 'quantitative', title: 'ratio', scale: { domain: [0, 1.2] } },
              color: { condition: { test: 'datum.ratio >= datum.target', value: '#54a24b' }, value: '#e45756' },
            },
          },
          {
            mark: { type: 'tick', color: 'black', thickness: 2 },
            encoding: { y: { field: 'what', type: 'nominal', sort: null }, x: { field: 'target', type: 'quantitative' } },
          },
        ],
      },
    });
  }
  return specs;
}

async function writeReport(results, { root }) {
  const charts = chartSpecs(results);
  return writeGeneratedPage({
    docsDir: path.join(root, 'docs'),
    page: 'benchmarks.md',
    title: 'Benchmarks',
    begin: BEGIN,
    end: END,
    charts,
    generated: markdown(results, charts),
  });
}

module.exports = { checkTargets, writeReport, markdown, chartSpecs, TARGETS };

if (require.main === module) {
  const input = process.argv[2] ?? path.join(__dirname, '..', 'results', 'latest.json');
  const results = JSON.parse(fs.readFileSync(input, 'utf8'));
  results.targets = checkTargets(results);
  writeReport(results, { root: path.join(__dirname, '..', '..') }).then(
    (files) => console.log(files.join('\n')),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
