#!/usr/bin/env node
'use strict';
/**
 * Export throughput and memory: rows/s and the worker's peak RSS for tasks exports of 100k, 1M
 * and 5M rows (CSV and JSON Lines), through the built API and worker, next to psql's
 * `COPY (SELECT …) TO STDOUT` of the same rows into a file in the same run, the ceiling.
 * Ours is timed from the task's startedAt to its finishedAt (the ledger's clock: reading, encoding
 * and writing the file to local storage); COPY from psql's start to its exit.
 * With `--file-rows N` it also cleans an N-row CSV (no rules) and exports the cleaned file as JSON
 * Lines (source `file`): rows/s and the worker's peak RSS, with no COPY to compare (none exists).
 * Usage: node bench/exports.js [--sizes 100000,1000000,5000000] [--formats csv,jsonl] [--profile] [--file-rows 1000000]
 * `--profile` samples the worker's CPU during each export (bench/lib/cpu-profile-hook.js) and
 * prints its top functions; the profiles land in bench/results/profiles/.
 * The integration test's million-row export runs with EXPORT_TEST_ROWS=1000000 (see
 * libs/exports/test/exports.integration-spec.ts).
 */
const { runMainOnProjectNode } = require('../scripts/lib/project-node');

const SEED_CHUNK = 1_000_000;

async function main() {
  const fs = require('node:fs');
  const path = require('node:path');
  const { spawn } = require('node:child_process');
  const { Run, snapshotDist, rssMb, sleep } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { freePort } = require('./lib/infra');
  const { summarise, format: formatProfile } = require('./profile-summary');
  const argv = process.argv.slice(2);
  const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const sizes = value('--sizes', '100000,1000000,5000000').split(',').map(Number);
  const formats = value('--formats', 'csv,jsonl').split(',');
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log });
  const results = [];
  try {
    await snapshotDist(run);
    const stack = await startStack(run, { dialect: 'postgres', logLevel: 'warn', log });
    // Exports only: the worker consumes their queue alone, the API's clock is not in the figures.
    const fileRows = Number(value('--file-rows', 0));
    // The cleaning's queue only when the file source is measured (its cleaning comes first).
    stack.env.WORKER_QUEUES = fileRows > 0 ? 'exports,file-processing' : 'exports';
    stack.env.STORAGE_DIR = path.join(run.dir, 'storage');
    const api = await stack.startApi({ cpus: CPU.server });
    const profiling = argv.includes('--profile');
    const profile = profiling ? { port: await freePort(), file: '' } : undefined;
    const profileDir = path.join(__dirname, 'results', 'profiles');
    const sample = async (action) => {
      const response = await fetch(`http://127.0.0.1:${profile.port}/${action}`, { method: 'POST' });
      if (!response.ok) throw new Error(`profile ${action}: ${response.status}`);
    };
    if (profile) {
      fs.mkdirSync(profileDir, { recursive: true });
      // The hook reads its output file at stop time from this variable; each export renames the file after.
      profile.file = path.join(profileDir, 'exports-worker.cpuprofile');
    }
    const worker = await stack.startWorker({ concurrency: 1, cpus: CPU.server, profile });
    const idleRssMb = rssMb(worker.record.pid);
    const request = async (method, route, body) => {
      const response = await fetch(`${api.url}${route}`, { method, headers: stack.authHeaders, body: body && JSON.stringify(body) });
      const json = await response.json();
      if (response.status >= 400) throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(json)}`);
      return json;
    };

    let seeded = 0;
    for (const size of sizes) {
      for (; seeded < size; seeded += Math.min(SEED_CHUNK, size - seeded)) {
        const count = Math.min(SEED_CHUNK, size - seeded);
        // The admin key's tenant; rows shaped like real ones (a payload and result, tags, times).
        await stack.db.query(
          `INSERT INTO tasks (id, tenant_id, type, queue, status, priority, payload, result, attempts, max_attempts, attempt_budget, timeout_ms, tags, created_at, updated_at, started_at, finished_at, worker_id)
           SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'default', 'report.render', 'reports', 'completed', 5,
                  jsonb_build_object('customerId', g, 'name', 'Customer ' || g, 'note', 'a, "quoted" note'), jsonb_build_object('pages', g % 17),
                  1, 3, 3, 30000, '["bench"]'::jsonb, now(), now(), now(), now(), 'worker-1'
           FROM generate_series($1::bigint, $2::bigint) AS g`,
          [seeded + 1, seeded + count],
        );
      }
      await stack.db.query('ANALYZE tasks');
      log(`${size} rows seeded`);

      const copyFile = path.join(run.dir, 'copy.csv');
      const copyStarted = process.hrtime.bigint();
      await new Promise((resolve, reject) => {
        const out = fs.openSync(copyFile, 'w');
        const sql = "COPY (SELECT * FROM tasks WHERE tenant_id = 'default' AND type = 'report.render' ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)";
        const psql = spawn('psql', [stack.db.url, '-X', '-q', '-c', sql], { stdio: ['ignore', out, 'inherit'] });
        psql.on('error', reject);
        psql.on('exit', (code) => (fs.closeSync(out), code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
      });
      const copySeconds = Number(process.hrtime.bigint() - copyStarted) / 1e9;
      const copyBytes = fs.statSync(copyFile).size;
      fs.rmSync(copyFile);
      const copyRate = Math.round(size / copySeconds);
      log(`  psql COPY csv: ${copySeconds.toFixed(2)} s, ${copyRate} rows/s, ${(copyBytes / 1e6).toFixed(0)} MB`);

      for (const format of formats) {
        let peak = rssMb(worker.record.pid);
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb(worker.record.pid) ?? 0)), 25);
        if (profile) await sample('start');
        const created = await request('POST', '/v1/exports', { source: 'tasks', format, filters: { type: 'report.render' } });
        let view;
        for (;;) {
          view = await request('GET', `/v1/exports/${created.id}`);
          if (['completed', 'failed', 'cancelled'].includes(view.status)) break;
          await sleep(100);
        }
        clearInterval(sampler);
        if (profile) {
          await sample('stop');
          const kept = path.join(profileDir, `exports-${size}-${format}.cpuprofile`);
          fs.renameSync(profile.file, kept);
          log(formatProfile(summarise(JSON.parse(fs.readFileSync(kept, 'utf8')), { top: 15 }), `${path.relative(process.cwd(), kept)}\n`));
        }
        if (view.status !== 'completed' || view.rows !== size)
          throw new Error(`export ${created.id}: ${view.status}, ${view.rows} rows: ${JSON.stringify(view.error)}`);
        const task = await request('GET', `/v1/tasks/${created.id}`);
        const seconds = (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000;
        const rate = Math.round(size / seconds);
        const entry = {
          rows: size,
          format,
          seconds,
          rowsPerSec: rate,
          bytes: view.bytes,
          copyCsvSeconds: copySeconds,
          copyCsvRowsPerSec: copyRate,
          ratio: Number((rate / copyRate).toFixed(2)),
          workerPeakRssMb: peak,
          workerIdleRssMb: idleRssMb,
        };
        results.push(entry);
        log(
          `  conveyor ${format.padEnd(5)}: ${seconds.toFixed(2)} s, ${rate} rows/s (${entry.ratio}× COPY), ${(view.bytes / 1e6).toFixed(0)} MB, worker peak RSS ${peak} MB (idle ${idleRssMb} MB)`,
        );
      }
    }
    if (fileRows > 0) results.push(await fileExport(fileRows, { api, stack, request, worker, log }));
    const file = path.join(__dirname, 'results', 'exports-latest.json');
    fs.writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`);
    log(`written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await run.cleanup();
  }
}

/** Cleans an n-row CSV, then exports the cleaned file as JSON Lines; times the export task alone. */
async function fileExport(rows, { api, stack, request, worker, log }) {
  const { rssMb, sleep } = require('./lib/infra');
  let csv = 'id,email,amount,comment\n';
  for (let i = 1; i <= rows; i += 1) csv += `${i},user${i}@example.com,${(i % 977) / 4},"a ""quoted"", comment ${i}"\n`;
  const form = new FormData();
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv');
  const headers = { authorization: stack.authHeaders.authorization };
  const cleaning = await (await fetch(`${api.url}/v1/cleaning-jobs`, { method: 'POST', body: form, headers })).json();
  const waitFor = async (route, done) => {
    for (;;) {
      const body = await request('GET', route);
      if (done(body)) return body;
      await sleep(100);
    }
  };
  const cleaned = await waitFor(`/v1/tasks/${cleaning.task.id}`, (task) => ['completed', 'failed', 'cancelled'].includes(task.status));
  if (cleaned.status !== 'completed') throw new Error(`cleaning ${cleaned.id}: ${cleaned.status} ${JSON.stringify(cleaned.error)}`);
  let peak = rssMb(worker.record.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(worker.record.pid) ?? 0)), 25);
  const created = await request('POST', '/v1/exports', { source: 'file', fileId: cleaned.result.outputFileId, format: 'jsonl' });
  const view = await waitFor(`/v1/exports/${created.id}`, (body) => ['completed', 'failed', 'cancelled'].includes(body.status));
  clearInterval(sampler);
  if (view.status !== 'completed' || view.rows !== rows) throw new Error(`file export ${created.id}: ${view.status}, ${view.rows} rows`);
  const task = await request('GET', `/v1/tasks/${created.id}`);
  const seconds = (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000;
  const entry = { source: 'file', rows, format: 'jsonl', seconds, rowsPerSec: Math.round(rows / seconds), bytes: view.bytes, workerPeakRssMb: peak };
  log(
    `  conveyor file→jsonl: ${rows} rows in ${seconds.toFixed(2)} s, ${entry.rowsPerSec} rows/s, ${(view.bytes / 1e6).toFixed(0)} MB, worker peak RSS ${peak} MB`,
  );
  return entry;
}

runMainOnProjectNode(main);
