#!/usr/bin/env node
'use strict';
/**
 * Renders docs/img/dashboard.png: the panels of k8s/monitoring/conveyor-dashboard.json drawn
 * from real metrics (Grafana is not needed). It runs the built API and a worker on the local
 * Redis and PostgreSQL (own database and BullMQ prefix, removed afterwards), scrapes both apps'
 * /metrics every 2 s with a throwaway Prometheus server (Debian's prometheus package, the one
 * promtool comes with), drives a load through phases (steady, the worker stopped, the worker
 * back with a second one), then evaluates every panel's queries over the run through
 * Prometheus's query_range API and draws them with vega-lite; Chromium turns the page into a PNG.
 *
 *   npm run build && node scripts/render-dashboard.js [--minutes 5] [--out docs/img/dashboard.png]
 *   node scripts/render-dashboard.js --redraw <dir>   draw again from a run kept with KEEP_RENDER_DIR=1
 *
 * Environment: REDIS_URL (redis://127.0.0.1:6379), PG_ADMIN_URL
 * (postgres://postgres@127.0.0.1:5432/postgres), PROMETHEUS (prometheus), CHROMIUM (/usr/bin/chromium).
 * Panels use `$queue` = all queues and `$__rate_interval` = 30s; series that stay 0 (the idle
 * queues) are left out.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ENTRY = {
  api: path.join(ROOT, 'dist/apps/api/apps/api/src/main.js'),
  worker: path.join(ROOT, 'dist/apps/worker/apps/worker/src/main.js'),
  migrate: path.join(ROOT, 'dist/apps/api/apps/api/src/migrate.js'),
};
const DASHBOARD = path.join(ROOT, 'k8s/monitoring/conveyor-dashboard.json');
const ADMIN_KEY = 'render-dashboard-admin-key-0123456789';
const SCRAPE_SECONDS = 2;
const RATE_INTERVAL = '30s';
const STEP_SECONDS = 5;

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const say = (message) => process.stdout.write(`render-dashboard: ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose output goes to a log file; `stop()` sends SIGTERM and waits. */
function start(name, command, args, env, logDir) {
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    name,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntil(what, probe, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

const ok = async (url) => (await fetch(url, { signal: AbortSignal.timeout(3000) })).status === 200;

/** One batch of system.sleep tasks: mostly short, some retried once, a few failing for good. */
function batch(size, counter) {
  const tasks = [];
  for (let i = 0; i < size; i += 1) {
    const n = counter.next++;
    const payload = { ms: 30 + Math.round(Math.random() ** 3 * 1500) };
    if (n % 12 === 0) payload.failTimes = 1;
    if (n % 40 === 0) payload.failTimes = 9;
    tasks.push({ type: 'system.sleep', payload, maxAttempts: 3 });
  }
  return tasks;
}

async function enqueue(apiUrl, tasks) {
  const response = await fetch(`${apiUrl}/v1/tasks/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tasks }),
  });
  if (response.status !== 202) throw new Error(`enqueue answered ${response.status}: ${await response.text()}`);
}

/** Enqueues `perSecond` tasks a second until `until` (ms epoch). */
async function load(apiUrl, perSecond, until, counter) {
  while (Date.now() < until) {
    const tick = Date.now();
    await enqueue(apiUrl, batch(Math.max(1, Math.round(perSecond / 2)), counter));
    await sleep(Math.max(0, 500 - (Date.now() - tick)));
  }
}

/** Fills a panel target's dashboard variables the way Grafana would for "all queues". */
function concreteQuery(expr) {
  return expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$queue', '.*');
}

function legendOf(format, metric) {
  return format ? format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label) => metric[label] ?? '') : JSON.stringify(metric);
}

async function queryRange(promUrl, expr, startS, endS) {
  const params = new URLSearchParams({ query: expr, start: String(startS), end: String(endS), step: String(STEP_SECONDS) });
  const response = await fetch(`${promUrl}/api/v1/query_range?${params}`);
  const body = await response.json();
  if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${body.error}`);
  return body.data.result;
}

const Y_FORMAT = { s: '.3~s', ops: '.3~s', reqps: '.3~s', short: '.3~s', bytes: '.3~s', percentunit: '.0%' };
const Y_SUFFIX = { s: ' (s)', ops: ' (/s)', reqps: ' (/s)', bytes: ' (bytes)', percentunit: '' };

/** The vega-lite line chart of one panel's series ({t, value, series}). */
function panelSpec(panel, values, startMs, endMs) {
  const unit = panel.fieldConfig?.defaults?.unit ?? 'short';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 520,
    height: 170,
    title: { text: panel.title, anchor: 'start', fontSize: 14, ...(values.length === 0 ? { subtitle: 'no data in this run (nothing happened)' } : {}) },
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5, interpolate: 'monotone', invalid: 'break-paths-show-domains' },
    encoding: {
      x: { field: 't', type: 'temporal', title: null, scale: { domain: [startMs, endMs] }, axis: { format: '%H:%M:%S', tickCount: 5 } },
      y: { field: 'value', type: 'quantitative', title: `${unit === 'short' ? '' : (Y_SUFFIX[unit] ?? '')}`, axis: { format: Y_FORMAT[unit] ?? '.3~s' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 250 } },
    },
    config: { font: 'sans-serif', background: 'white', view: { stroke: '#ddd' } },
  };
}

async function renderSvg(spec) {
  // vega and vega-lite are ESM-only: import(), not require().
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

async function drawDashboard(promUrl, startS, endS, out, caption) {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const svgs = [];
  for (const panel of dashboard.panels) {
    const values = [];
    for (const target of panel.targets) {
      for (const series of await queryRange(promUrl, concreteQuery(target.expr), startS, endS)) {
        const name = legendOf(target.legendFormat, series.metric);
        const points = series.values.map(([t, v]) => ({ t: t * 1000, value: Number(v), series: name })).filter((p) => Number.isFinite(p.value));
        if (!points.some((p) => p.value !== 0)) continue;
        // A gap (a process stopped, no data) stays a gap: a null value breaks the line there.
        points.forEach((point, i) => {
          if (i > 0 && point.t - points[i - 1].t > STEP_SECONDS * 1000) values.push({ t: points[i - 1].t + STEP_SECONDS * 1000, value: null, series: name });
          values.push(point);
        });
      }
    }
    svgs.push(await renderSvg(panelSpec(panel, values, startS * 1000, endS * 1000)));
  }
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin: 0; padding: 16px; font-family: sans-serif; background: #f4f5f5; }
    h1 { font-size: 18px; margin: 0 0 4px; } p { margin: 0 0 12px; color: #555; font-size: 13px; }
    .grid { display: grid; grid-template-columns: repeat(2, 640px); gap: 10px; }
    .panel { background: white; border: 1px solid #ddd; border-radius: 4px; padding: 8px; }
  </style></head><body><h1>${dashboard.title}</h1><p>${caption}</p><div class="grid">${svgs.map((svg) => `<div class="panel">${svg}</div>`).join('')}</div></body></html>`;
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    const page = await browser.newPage({ viewport: { width: 1330, height: 900 } });
    await page.setContent(html);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    await browser.close();
  }
}

function captionFor(minutes) {
  return `Rendered from Prometheus data recorded over a ${minutes}-minute run (API, worker, scrapes every ${SCRAPE_SECONDS} s): steady load, the worker stopped, then two workers. $queue = all, $__rate_interval = ${RATE_INTERVAL}.`;
}

function startPrometheus(work, port) {
  const args = [
    `--config.file=${path.join(work, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(work, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  return start('prometheus', process.env.PROMETHEUS || 'prometheus', args, {}, work);
}

/** Draws again from the Prometheus data a kept run recorded (its tsdb and run.json). */
async function redraw(work, out) {
  const { startS, endS, minutes } = JSON.parse(fs.readFileSync(path.join(work, 'run.json'), 'utf8'));
  const port = await freePort();
  const prometheus = startPrometheus(work, port);
  try {
    await waitUntil('Prometheus', () => ok(`http://127.0.0.1:${port}/-/ready`));
    await drawDashboard(`http://127.0.0.1:${port}`, startS, endS, out, captionFor(minutes));
    say(`wrote ${path.relative(ROOT, out)}`);
  } finally {
    await prometheus.stop();
  }
}

async function main() {
  const out = path.resolve(ROOT, option('out', 'docs/img/dashboard.png'));
  if (option('redraw')) return redraw(path.resolve(option('redraw')), out);
  const minutes = Number(option('minutes', '5'));
  for (const entry of Object.values(ENTRY)) if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'conveyor-render-dashboard-'));
  const database = `conveyor_dashboard_${process.pid}`;
  const prefix = `render-dashboard-${process.pid}`;
  const adminUrl = process.env.PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const { Client } = require('pg');
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;
  const [apiPort, workerPort, worker2Port, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(workerPort),
    CONVEYOR_ADMIN_KEY: ADMIN_KEY,
    WEBHOOK_SECRET_KEY: Buffer.alloc(32, 9).toString('base64'),
    NODE_ENV: 'development',
    WORKER_CONCURRENCY: '8',
  };
  const running = [];
  try {
    say(`logs and Prometheus data in ${work}`);
    const migrate = start('migrate', process.execPath, [ENTRY.migrate], env, work);
    if ((await migrate.exited).code !== 0) throw new Error(`migrations failed; see ${work}/migrate.log`);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    running.push(start('api', process.execPath, [ENTRY.api], env, work));
    let worker = start('worker', process.execPath, [ENTRY.worker], env, work);
    running.push(worker);
    await waitUntil('the API', () => ok(`${apiUrl}/health/ready`));
    await waitUntil('the worker', () => ok(`http://127.0.0.1:${workerPort}/health/ready`));

    const targets = (port) => `['127.0.0.1:${port}']`;
    fs.writeFileSync(
      path.join(work, 'prometheus.yml'),
      `global:\n  scrape_interval: ${SCRAPE_SECONDS}s\n  evaluation_interval: ${SCRAPE_SECONDS}s\nscrape_configs:\n` +
        `  - job_name: conveyor-api\n    static_configs:\n      - targets: ${targets(apiPort)}\n` +
        `  - job_name: conveyor-worker\n    static_configs:\n      - targets: [${targets(workerPort).slice(1, -1)}, '127.0.0.1:${worker2Port}']\n`,
    );
    const promUrl = `http://127.0.0.1:${promPort}`;
    running.push(startPrometheus(work, promPort));
    await waitUntil('Prometheus', () => ok(`${promUrl}/-/ready`));

    const startS = Math.floor(Date.now() / 1000);
    const phase = (share) => Date.now() + share * minutes * 60_000;
    const counter = { next: 1 };
    say(`load for ${minutes} min: steady, then the worker stopped, then two workers`);
    await load(apiUrl, 10, phase(0.35), counter);
    say('stopping the worker (the backlog builds up)');
    await worker.stop();
    running.splice(running.indexOf(worker), 1);
    await load(apiUrl, 10, phase(0.2), counter);
    say('starting two workers (the backlog drains)');
    worker = start('worker', process.execPath, [ENTRY.worker], env, work);
    const second = start('worker-2', process.execPath, [ENTRY.worker], { ...env, WORKER_HEALTH_PORT: String(worker2Port), WORKER_ID: 'render-worker-2' }, work);
    running.push(worker, second);
    await load(apiUrl, 6, phase(0.45), counter);
    await sleep(SCRAPE_SECONDS * 2000);
    const endS = Math.floor(Date.now() / 1000);

    fs.writeFileSync(path.join(work, 'run.json'), JSON.stringify({ startS, endS, minutes }));
    say(`${counter.next - 1} tasks enqueued; drawing ${out}`);
    await drawDashboard(promUrl, startS, endS, out, captionFor(minutes));
    say(`wrote ${path.relative(ROOT, out)}`);
  } finally {
    for (const child of running.reverse()) await child.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    const { Redis } = require('ioredis');
    const redis = new Redis(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
    if (!process.env.KEEP_RENDER_DIR) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`render-dashboard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
