#!/usr/bin/env node
'use strict';
/**
 * File-cleaning benchmark (issue 6, item 6): Conveyor's cleaning engine against Miller and
 * DuckDB on the same reproducible dirty CSV, interleaved round by round.
 *
 *   npm run bench:cleaning                         # 10 MB and 100 MB, 5 rounds each
 *   npm run bench:cleaning -- --full               # adds 1 GB (1 round; Miller capped, see below)
 *   npm run bench:cleaning -- --sizes 50MB --rounds 3 --no-docs
 *
 * Per size: the input is generated once by generate-dirty-csv.js (seed 42) and cached under
 * bench/file-cleaning/.data/ (ignored by git; regenerated when the generator changes). Then, per
 * round, each tool runs once as its own process, in this fixed order, on the same file:
 *   engine-mlr   Conveyor's cleanStream, trim + collapse whitespace, dedupe on all columns
 *                (the work of `mlr clean-whitespace then uniq -a`);
 *   miller       mlr --icsv --ocsv clean-whitespace then uniq -a;
 *   duckdb       @duckdb/node-api, 2 threads: COPY (SELECT DISTINCT trim(regexp_replace(…)) …
 *                FROM read_csv(…)) TO …;
 *   engine-full  cleanStream with BENCH_RULES (types, case, empty rows, dedupe);
 *   engine-trim  cleanStream, trim + collapse only (no dedupe index: the flat-memory baseline);
 *   engine-warm  (files ≤ 50 MB) engine-mlr cleaned 3 times in one process; its MB/s is the
 *                3rd run's in-process figure, as in the long-running worker (no process start,
 *                code already optimised): what a small file costs there.
 * Outputs go to /dev/null in timed rounds. An untimed warm-up round first (sizes < 500 MB)
 * writes real output files, counts their records and checks the tools agree, and warms the page
 * cache. Every process runs under /usr/bin/time (peak RSS = its ru_maxrss) and a watchdog that
 * kills it past --rss-cap (default min(8 GiB, 60 % of MemAvailable)): Miller's `uniq -a` keeps
 * every record (≈ 27 × the file size in RSS), so at 1 GB it would exhaust the machine; it is
 * reported as killed at the cap, with how far it had read.
 *
 * Throughput = input bytes / process wall time (startup included, for every tool alike). The
 * ratios are medians of per-round ratios (each round's runs are back to back, so drifts of this
 * shared 2-core machine cancel out); never compare figures from different runs.
 *
 * Writes bench/results/cleaning-latest.json (the committed result) and the generated section of
 * docs/benchmarks-file-cleaning.md and docs/img/cleaning-*.svg; with --no-docs it leaves all
 * three alone and writes bench/results/cleaning-<time>.json (or --json FILE) instead. With --profile (default on) the
 * engine runner is CPU-profiled once per engine rule set on the largest size < 500 MB.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { ROOT, ensureDataDir, transpileEngine } = require('./load-engine');
const { median, round } = require('../lib/stats');
const { QUIET_CORES, isQuietRun } = require('./quiet-runs');

const HERE = __dirname;
const GENERATOR = path.join(HERE, 'generate-dirty-csv.js');
const TIME = '/usr/bin/time';
const MB = 1e6;
const BIG = 500 * MB;

const TOOLS = {
  'engine-mlr': { label: 'Conveyor engine (trim + collapse, dedupe all columns)', kind: 'engine', rules: 'mlr' },
  miller: { label: 'Miller: clean-whitespace then uniq -a', kind: 'miller' },
  duckdb: { label: 'DuckDB: SELECT DISTINCT trim(regexp_replace(…)), 2 threads', kind: 'duckdb' },
  'engine-full': { label: 'Conveyor engine (BENCH_RULES: types, case, dedupe)', kind: 'engine', rules: 'full' },
  'engine-trim': { label: 'Conveyor engine (trim + collapse, no dedupe)', kind: 'engine', rules: 'trim' },
  // Small files only: the same rules cleaned 3 times in one process; its MB/s is the 3rd run's,
  // in-process (as in the long-running worker: modules loaded, code optimised), not wall time.
  'engine-warm': {
    label: 'Conveyor engine (Miller-equivalent rules), 3rd run in a warm process, in-process MB/s',
    kind: 'engine',
    rules: 'mlr',
    repeat: 3,
    maxBytes: 50 * MB,
  },
};

// ------------------------------------------------------------------ arguments

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text.trim());
  if (!match) throw new Error(`bad size "${text}" (e.g. 10MB, 1GB)`);
  return Math.round(Number(match[1]) * { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[(match[2] || 'B').toUpperCase()]);
}

function parseArgs(argv) {
  const options = {
    sizes: '10MB,100MB',
    full: false,
    rounds: 5,
    bigRounds: 1,
    seed: 42,
    tools: Object.keys(TOOLS).join(','),
    threads: 2,
    duckdbMemory: '4GB',
    rssCap: null,
    warmup: true,
    profile: true,
    docs: true,
    deleteData: false,
    quiet: 0.5,
    quietWait: 180,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--sizes':
        options.sizes = value();
        break;
      case '--full':
        options.full = true;
        break;
      case '--rounds':
        options.rounds = Number(value());
        break;
      case '--big-rounds':
        options.bigRounds = Number(value());
        break;
      case '--seed':
        options.seed = Number(value());
        break;
      case '--tools':
        options.tools = value();
        break;
      case '--threads':
        options.threads = Number(value());
        break;
      case '--duckdb-memory':
        options.duckdbMemory = value();
        break;
      case '--rss-cap':
        options.rssCap = parseSize(value());
        break;
      case '--no-warmup':
        options.warmup = false;
        break;
      case '--no-profile':
        options.profile = false;
        break;
      case '--no-docs':
        options.docs = false;
        break;
      case '--delete-data':
        options.deleteData = true;
        break;
      case '--quiet':
        options.quiet = Number(value());
        break;
      case '--quiet-wait':
        options.quietWait = Number(value());
        break;
      case '--json':
        options.json = path.resolve(value());
        break;
      case '--help':
      case '-h':
        process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  // Every run keeps its raw result locally; a --docs run also writes the committed summary
  // (cleaning-latest.json, see committedSummary) that goes with the committed docs.
  options.json ??= path.join(ROOT, 'bench', 'results', `cleaning-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const labels = options.sizes
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  if (options.full && !labels.includes('1GB')) labels.push('1GB');
  options.sizes = labels.map((label) => ({ label, bytes: parseSize(label) })).sort((a, b) => a.bytes - b.bytes);
  options.tools = options.tools.split(',').map((t) => t.trim());
  for (const tool of options.tools) if (!TOOLS[tool]) throw new Error(`unknown tool ${tool}; known: ${Object.keys(TOOLS).join(', ')}`);
  if (options.rssCap === null) options.rssCap = Math.min(8 * 2 ** 30, Math.floor(0.6 * memAvailable()));
  return options;
}

// ------------------------------------------------------------------ machine facts

function memAvailable() {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return match ? Number(match[1]) * 1024 : os.freemem();
}

/** CPU time of the whole machine so far, in seconds: [busy, total] (all cores, from /proc/stat). */
function cpuTimes() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const hz = 100; // USER_HZ on Linux
  const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return [(total - idle) / hz, total / hz];
}

/** Cores kept busy by everything on the machine over `ms` milliseconds. */
async function busyCores(ms) {
  const [busy0] = cpuTimes();
  const started = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const [busy1] = cpuTimes();
  return (busy1 - busy0) / (Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * Waits (up to `maxMs`) until other work on the machine keeps less than `threshold` cores busy,
 * so that a round starts on a quiet machine when one can be had; returns what was measured.
 */
async function waitForQuiet(threshold, maxMs) {
  const started = Date.now();
  let cores = await busyCores(1000);
  let announced = false;
  while (cores > threshold && Date.now() - started < maxMs) {
    if (!announced) log(`  waiting for a quieter machine (other work keeps ${cores.toFixed(2)} cores busy; threshold ${threshold}) …`);
    announced = true;
    cores = await busyCores(2000);
  }
  return { cores: round(cores, 2), waitedMs: Date.now() - started - 1000 };
}

function tryRun(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memTotalBytes: os.totalmem(),
    memAvailableBytes: memAvailable(),
    loadAverage: os.loadavg().map((v) => round(v, 2)),
    node: process.version,
    miller: tryRun('mlr', ['--version']),
    duckdbNodeApi: packageVersion('@duckdb/node-api'),
    typescript: packageVersion('typescript'),
    git: tryRun('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    gitDirty: (tryRun('git', ['-C', ROOT, 'status', '--porcelain', '--', 'libs/file-cleaning']) ?? '') !== '',
  };
}

// ------------------------------------------------------------------ inputs

function generatorHash() {
  return require('node:crypto').createHash('sha256').update(fs.readFileSync(GENERATOR)).digest('hex').slice(0, 12);
}

function runQuiet(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(command)} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

/** The cached input of a size, generated when missing or made by another generator version. */
async function ensureInput(size, seed) {
  const dir = ensureDataDir();
  const file = path.join(dir, `dirty-${size.label}-seed${seed}.csv`);
  const metaFile = `${file}.json`;
  const hash = generatorHash();
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    if (meta.generator === hash && fs.statSync(file).size === meta.bytes) return { file, bytes: meta.bytes, generatedMs: null, cached: true };
  } catch {
    // not cached yet
  }
  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < size.bytes * 3) throw new Error(`not enough free disk under ${dir} for a ${size.label} input (+ outputs)`);
  log(`generating ${size.label} (seed ${seed}) …`);
  const started = Date.now();
  const temp = `${file}.tmp`;
  await runQuiet(process.execPath, [GENERATOR, '--size', String(size.bytes), '--seed', String(seed), '--out', temp]);
  fs.renameSync(temp, file);
  const bytes = fs.statSync(file).size;
  fs.writeFileSync(metaFile, JSON.stringify({ generator: hash, seed, size: size.label, bytes, generatedAt: new Date().toISOString() }));
  const generatedMs = Date.now() - started;
  log(`  ${path.relative(ROOT, file)}: ${bytes} bytes in ${(generatedMs / 1000).toFixed(1)} s`);
  return { file, bytes, generatedMs, cached: false };
}

// ------------------------------------------------------------------ running one tool

function log(message) {
  process.stderr.write(`${message}\n`);
}

function commandFor(tool, input, output, options) {
  const spec = TOOLS[tool];
  if (spec.kind === 'engine') {
    const args = [path.join(HERE, 'engine-runner.js'), '--input', input, '--rules', spec.rules, '--output', output];
    if (spec.repeat) args.push('--repeat', String(spec.repeat));
    return { command: process.execPath, args, json: true };
  }
  if (spec.kind === 'duckdb') {
    return {
      command: process.execPath,
      args: [
        path.join(HERE, 'duckdb-runner.js'),
        '--input',
        input,
        '--output',
        output,
        '--threads',
        String(options.threads),
        '--memory-limit',
        options.duckdbMemory,
      ],
      json: true,
    };
  }
  return { command: 'mlr', args: ['--icsv', '--ocsv', 'clean-whitespace', 'then', 'uniq', '-a', input], stdoutFile: output, json: false };
}

function toolsFor(input, options) {
  return options.tools.filter((tool) => !TOOLS[tool].maxBytes || input.bytes <= TOOLS[tool].maxBytes);
}

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Runs one tool under /usr/bin/time with an RSS watchdog. Wall time is measured here, from spawn
 * to exit, so it includes each tool's startup.
 */
function measure(tool, input, output, options) {
  const { command, args, stdoutFile, json } = commandFor(tool, input, output, options);
  const timeFile = path.join(ensureDataDir(), `time-${process.pid}.txt`);
  fs.rmSync(timeFile, { force: true });
  const stdoutFd = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'pipe';
  return new Promise((resolve, reject) => {
    const [busyBefore] = cpuTimes();
    const started = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%e %M %U %S', '-o', timeFile, command, ...args], { stdio: ['ignore', stdoutFd, 'pipe'] });
    if (typeof stdoutFd === 'number') fs.closeSync(stdoutFd);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    let toolPid = null;
    let sampledPeak = 0;
    // RSS over time (one point per ~0.5 s): shows whether memory plateaus or keeps growing.
    const rssSeries = [];
    let lastPoint = -Infinity;
    let killed = null;
    const watchdog = setInterval(() => {
      if (toolPid === null) {
        const children = readProc(child.pid, `task/${child.pid}/children`);
        toolPid = children ? Number(children.trim().split(/\s+/)[0]) || null : null;
        if (toolPid === null) return;
      }
      const status = readProc(toolPid, 'status');
      const rss = status ? Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024 : 0;
      sampledPeak = Math.max(sampledPeak, rss);
      const t = Number(process.hrtime.bigint() - started) / 1e9;
      if (rss > 0 && t - lastPoint >= 0.5) {
        rssSeries.push([round(t, 1), Math.round(rss / 2 ** 20)]);
        lastPoint = t;
      }
      if (rss > options.rssCap && !killed) {
        const io = readProc(toolPid, 'io');
        const readBytes = io ? Number(/^rchar:\s+(\d+)/m.exec(io)?.[1] ?? 0) : null;
        const afterMs = Number(process.hrtime.bigint() - started) / 1e6;
        killed = { atRssBytes: rss, readBytes, afterMs: Math.round(afterMs), mbpsUntilKilled: readBytes ? round(readBytes / MB / (afterMs / 1000), 2) : null };
        try {
          process.kill(toolPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, 100);
    child.on('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
    child.on('close', (code) => {
      clearInterval(watchdog);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const [busyAfter] = cpuTimes();
      const timeText = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '';
      fs.rmSync(timeFile, { force: true });
      const timeLine = timeText
        .trim()
        .split('\n')
        .filter((l) => /^[\d.]+ \d+ [\d.]+ [\d.]+$/.test(l))
        .pop();
      const [, maxRssKb, userS, sysS] = timeLine ? timeLine.split(' ').map(Number) : [];
      let detail = null;
      if (json) {
        const line = out.trim().split('\n').pop();
        try {
          detail = line ? JSON.parse(line) : null;
        } catch {
          detail = null;
        }
      }
      const ok = code === 0 && !killed;
      const bytes = fs.statSync(input).size;
      const repeats = detail?.repeats;
      // engine-warm: the last in-process repetition, not the process wall time.
      const mbps = !ok ? null : TOOLS[tool].repeat && repeats?.length ? repeats[repeats.length - 1].mbps : round(bytes / MB / (wallMs / 1000), 2);
      resolve({
        tool,
        status: killed ? 'killed-at-rss-cap' : ok ? 'ok' : `failed (exit ${code})`,
        error: ok ? undefined : killed ? undefined : err.trim().split('\n').slice(-3).join(' | '),
        killed: killed ?? undefined,
        wallMs: Math.round(wallMs),
        mbps,
        peakRssBytes: maxRssKb ? maxRssKb * 1024 : sampledPeak || null,
        userMs: userS !== undefined ? Math.round(userS * 1000) : null,
        sysMs: sysS !== undefined ? Math.round(sysS * 1000) : null,
        cpuPct: userS !== undefined ? Math.round(((userS + sysS) * 1000 * 100) / wallMs) : null,
        // Cores kept busy by everything else while this ran (machine busy time less the tool's).
        backgroundCores: userS !== undefined ? round(Math.max(0, busyAfter - busyBefore - userS - sysS) / (wallMs / 1000), 2) : null,
        detail: detail ? trimDetail(detail) : null,
        rssSeriesMiB: rssSeries,
      });
    });
  });
}

function trimDetail(detail) {
  const { sql, ...rest } = detail;
  if (rest.tool === 'engine') rest.inProcessMbps = rest.timings?.totalMs ? round(rest.bytes / MB / (rest.timings.totalMs / 1000), 2) : null;
  if (rest.tool === 'duckdb') rest.inProcessMbps = rest.duckdbMs ? round(rest.bytes / MB / (rest.duckdbMs / 1000), 2) : null;
  return rest;
}

async function countRecords(file) {
  const out = await runQuiet(process.execPath, [
    path.join(HERE, 'duckdb-runner.js'),
    '--input',
    file,
    '--count',
    '1',
    '--threads',
    '2',
    '--memory-limit',
    '2GB',
  ]);
  return JSON.parse(out.trim().split('\n').pop()).records;
}

// ------------------------------------------------------------------ summaries

function ratioSeries(runs, sizeLabel, numerator, denominator, rounds) {
  const perRound = [];
  const quiet = [];
  for (let r = 1; r <= rounds; r++) {
    const a = runs.find((x) => x.size === sizeLabel && x.round === r && x.tool === numerator);
    const b = runs.find((x) => x.size === sizeLabel && x.round === r && x.tool === denominator);
    const ratio = a?.mbps && b?.mbps ? round(a.mbps / b.mbps, 3) : null;
    perRound.push(ratio);
    // A round is quiet when both of its runs are.
    if (ratio !== null && isQuietRun(a) && isQuietRun(b)) quiet.push(ratio);
  }
  const valid = perRound.filter((v) => v !== null);
  return {
    perRound,
    median: valid.length ? round(median(valid), 3) : null,
    // Contention hurts the multi-threaded peers (Miller, DuckDB) more than the one-threaded
    // engine, so noisy rounds flatter the engine: the quiet rounds' median is the fairer figure.
    quietRounds: quiet.length,
    quietMedian: quiet.length ? round(median(quiet), 3) : null,
  };
}

/** When the peer was killed at the RSS cap: against its throughput up to then (indicative only). */
function ratioUntilKilled(runs, sizeLabel, numerator, denominator, rounds) {
  const perRound = [];
  for (let r = 1; r <= rounds; r++) {
    const a = runs.find((x) => x.size === sizeLabel && x.round === r && x.tool === numerator);
    const b = runs.find((x) => x.size === sizeLabel && x.round === r && x.tool === denominator);
    perRound.push(a?.mbps && b?.killed?.mbpsUntilKilled ? round(a.mbps / b.killed.mbpsUntilKilled, 3) : null);
  }
  const valid = perRound.filter((v) => v !== null);
  return { perRound, median: valid.length ? round(median(valid), 3) : null };
}

function summarise(runs, inputs, options) {
  const bySize = {};
  for (const input of inputs) {
    const label = input.label;
    const rounds = runs.filter((r) => r.size === label).reduce((m, r) => Math.max(m, r.round), 0);
    const tools = {};
    for (const tool of options.tools) {
      const mine = runs.filter((r) => r.size === label && r.tool === tool);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.status === 'ok');
      const mbps = ok.map((r) => r.mbps);
      tools[tool] = {
        runs: mine.length,
        ok: ok.length,
        status: ok.length === mine.length ? 'ok' : mine.find((r) => r.status !== 'ok').status,
        medianMbps: mbps.length ? round(median(mbps), 2) : null,
        minMbps: mbps.length ? Math.min(...mbps) : null,
        maxMbps: mbps.length ? Math.max(...mbps) : null,
        medianWallMs: ok.length ? Math.round(median(ok.map((r) => r.wallMs))) : null,
        medianInProcessMbps: ok.some((r) => r.detail?.inProcessMbps) ? round(median(ok.map((r) => r.detail?.inProcessMbps).filter(Boolean)), 2) : null,
        medianCpuPct: ok.length ? Math.round(median(ok.map((r) => r.cpuPct))) : null,
        medianBackgroundCores: mine.some((r) => r.backgroundCores !== null) ? round(median(mine.map((r) => r.backgroundCores)), 2) : null,
        peakRssBytes: Math.max(...mine.map((r) => r.peakRssBytes ?? 0)) || null,
        medianPeakRssBytes: Math.round(median(mine.map((r) => r.peakRssBytes).filter(Boolean))) || null,
        indexBytes: ok.find((r) => r.detail?.indexBytes)?.detail.indexBytes ?? null,
        rowsOut: ok.find((r) => r.detail?.rowsOut !== undefined)?.detail.rowsOut ?? null,
        killed: mine.find((r) => r.killed)?.killed ?? null,
      };
    }
    const ratios = {
      engineVsMiller: ratioSeries(runs, label, 'engine-mlr', 'miller', rounds),
      engineVsDuckdb: ratioSeries(runs, label, 'engine-mlr', 'duckdb', rounds),
      engineFullVsMiller: ratioSeries(runs, label, 'engine-full', 'miller', rounds),
      engineFullVsDuckdb: ratioSeries(runs, label, 'engine-full', 'duckdb', rounds),
      engineWarmVsMiller: ratioSeries(runs, label, 'engine-warm', 'miller', rounds),
      engineVsMillerUntilKilled: ratioUntilKilled(runs, label, 'engine-mlr', 'miller', rounds),
    };
    const vsMiller = ratios.engineVsMiller.median;
    const vsDuckdb = ratios.engineVsDuckdb.median;
    bySize[label] = {
      bytes: input.bytes,
      rounds,
      tools,
      ratios,
      targets: {
        engineVsMiller: { target: 3, value: vsMiller, met: vsMiller === null ? null : vsMiller >= 3 },
        engineVsDuckdb: { target: 0.5, value: vsDuckdb, met: vsDuckdb === null ? null : vsDuckdb >= 0.5 },
      },
    };
  }
  return bySize;
}

/** Engine peak RSS by size: without dedupe it must not grow; with dedupe only by the index. */
/**
 * Does the engine's memory stay flat as the file grows (the dedupe index aside)?
 *
 * Primary test, "plateau": in the run on the largest input, the engine's own samples of RSS less
 * ArrayBuffer memory (which leaves out the dedupe index, a typed array, and the I/O buffers) grow
 * by < 32 MiB from the first half of the run to the second, i.e. memory has stopped growing
 * while the second half of the file streams through.
 *
 * Also reported, "across sizes": peak RSS less 1.5 × the final index (the table doubles, and
 * while it rehashes the old table is still alive) from the largest size ≥ 50 MB below the
 * largest to the largest. Peak RSS of short runs is noisy (±50 MiB here) and still includes
 * V8's heap growing towards its steady size, so this is context, not the verdict.
 */
function memoryCheck(bySize, overTime) {
  const labels = Object.keys(bySize);
  const variants = {};
  for (const tool of ['engine-trim', 'engine-mlr', 'engine-full', 'duckdb', 'miller']) {
    const points = labels
      .filter((label) => bySize[label].tools[tool])
      .map((label) => {
        const t = bySize[label].tools[tool];
        return {
          size: label,
          bytes: bySize[label].bytes,
          peakRssBytes: t.peakRssBytes,
          indexBytes: t.indexBytes,
          peakRssLessIndexBytes: t.peakRssBytes && t.indexBytes !== null ? t.peakRssBytes - 1.5 * t.indexBytes : t.peakRssBytes,
          status: t.status,
        };
      });
    if (points.length) variants[tool] = points;
  }
  const verdicts = {};
  for (const tool of ['engine-trim', 'engine-mlr', 'engine-full']) {
    const verdict = {};
    const series = overTime?.series[tool];
    if (series?.plateau !== undefined) {
      verdict.plateau = {
        size: overTime.size,
        firstHalfMiB: series.firstHalfMaxRssLessArrayBuffersMiB,
        secondHalfMiB: series.secondHalfMaxRssLessArrayBuffersMiB,
        growthMiB: series.secondHalfMaxRssLessArrayBuffersMiB - series.firstHalfMaxRssLessArrayBuffersMiB,
        flat: series.plateau,
      };
    }
    const points = (variants[tool] ?? []).filter((p) => p.peakRssLessIndexBytes);
    if (points.length >= 2) {
      const last = points[points.length - 1];
      const first = [...points.slice(0, -1)].reverse().find((p) => p.bytes >= 50 * MB) ?? points[0];
      const growth = last.peakRssLessIndexBytes - first.peakRssLessIndexBytes;
      verdict.acrossSizes = {
        from: first.size,
        to: last.size,
        inputGrowth: round(last.bytes / first.bytes, 1),
        growthBytes: Math.round(growth),
        growthPct: round((growth / first.peakRssLessIndexBytes) * 100, 1),
      };
    }
    verdict.flat = verdict.plateau ? verdict.plateau.flat : null;
    if (verdict.plateau || verdict.acrossSizes) verdicts[tool] = verdict;
  }
  return {
    criterion:
      'flat = in the run on the largest input, RSS less ArrayBuffer memory (i.e. without the dedupe index and I/O buffers) grows by < 32 MiB from the first half of the run to the second half',
    variants,
    verdicts,
  };
}

/**
 * RSS over time of each tool's first run on the largest input, and for the engine whether it
 * plateaus: the highest RSS of the run's second half against that of its first half.
 */
function rssOverTime(runs, input) {
  const series = {};
  for (const run of runs.filter((r) => r.size === input.label && r.round === 1)) {
    const points = run.rssSeriesMiB ?? [];
    const entry = { status: run.status, points };
    const halves = (list, pick) => {
      if (list.length < 4) return [null, null];
      const endT = list[list.length - 1][0];
      return [Math.max(...list.filter((p) => p[0] <= endT / 2).map(pick)), Math.max(...list.filter((p) => p[0] > endT / 2).map(pick))];
    };
    [entry.firstHalfMaxMiB, entry.secondHalfMaxMiB] = halves(points, (p) => p[1]);
    const inProcess = run.detail?.memorySeries;
    if (inProcess && !TOOLS[run.tool].repeat) {
      // Engine only: its own samples [s, rss, heapTotal, heapUsed, arrayBuffers] (MiB).
      // RSS less ArrayBuffer memory leaves out the dedupe index (a typed array) and I/O buffers.
      entry.inProcess = inProcess;
      [entry.firstHalfMaxRssLessArrayBuffersMiB, entry.secondHalfMaxRssLessArrayBuffersMiB] = halves(inProcess.points, (p) => p[1] - p[4]);
      [entry.firstHalfMaxHeapTotalMiB, entry.secondHalfMaxHeapTotalMiB] = halves(inProcess.points, (p) => p[2]);
      if (entry.secondHalfMaxRssLessArrayBuffersMiB !== null) {
        entry.plateau = entry.secondHalfMaxRssLessArrayBuffersMiB - entry.firstHalfMaxRssLessArrayBuffersMiB < 32;
      }
    }
    series[run.tool] = entry;
  }
  return { size: input.label, bytes: input.bytes, series };
}

// ------------------------------------------------------------------ profile

async function profileEngine(input, rules) {
  const dir = path.join(ensureDataDir(), 'prof');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const out = await runQuiet(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, path.join(HERE, 'engine-runner.js'), '--input', input, '--rules', rules]);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const { summarise: summariseProfile } = require('../profile-summary');
  const summary = summariseProfile(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), { top: 15 });
  const relabel = (text) => (text ?? '').replace(/^.*bench\/file-cleaning\/\.data\/engine\/[0-9a-f]+\//, 'engine/');
  const byOrigin = new Map();
  for (const o of summary.byOrigin) {
    const name = o.origin === 'bench hook' ? 'conveyor engine (libs/file-cleaning)' : o.origin;
    const entry = byOrigin.get(name) ?? { origin: name, selfMs: 0, pctOfBusy: 0 };
    entry.selfMs += o.selfMs;
    entry.pctOfBusy = round(entry.pctOfBusy + o.pctOfBusy, 1);
    byOrigin.set(name, entry);
  }
  const kept = path.join(dir, `engine-${rules}.cpuprofile`);
  fs.renameSync(path.join(dir, file), kept);
  return {
    rules,
    input: path.basename(input),
    profileFile: path.relative(ROOT, kept),
    run: JSON.parse(out.trim().split('\n').pop()).timings,
    wallMs: summary.wallMs,
    busyMs: summary.busyMs,
    byOrigin: [...byOrigin.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, 8),
    topFunctions: summary.topFunctions.map((f) => ({
      function: f.function,
      location: relabel(f.location),
      origin: f.origin === 'bench hook' ? 'engine' : f.origin,
      selfMs: f.selfMs,
      pctOfBusy: f.pctOfBusy,
    })),
  };
}

// ------------------------------------------------------------------ main

function fmtBytes(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing: apt-get install -y time`);
  if (options.tools.includes('miller') && !tryRun('mlr', ['--version'])) throw new Error('mlr is missing: apt-get install -y miller');
  const startedAt = new Date();
  const machineStart = machine();
  log(`cleaning bench: sizes ${options.sizes.map((s) => s.label).join(', ')}; tools ${options.tools.join(' → ')}; RSS cap ${fmtBytes(options.rssCap)}`);
  log(`engine transpiled to ${path.relative(ROOT, transpileEngine())}`);

  const inputs = [];
  for (const size of options.sizes) inputs.push({ ...size, ...(await ensureInput(size, options.seed)) });

  const runs = [];
  const agreement = {};
  const outDir = path.join(ensureDataDir(), 'out');
  for (const input of inputs) {
    const rounds = input.bytes >= BIG ? options.bigRounds : options.rounds;
    if (options.warmup && input.bytes < BIG) {
      log(`${input.label}: warm-up (untimed; real outputs, record counts)`);
      fs.mkdirSync(outDir, { recursive: true });
      const counts = {};
      for (const tool of toolsFor(input, options)) {
        const output = path.join(outDir, `${tool}.csv`);
        const run = await measure(tool, input.file, output, options);
        counts[tool] = { status: run.status, reported: run.detail?.rowsOut ?? null, records: run.status === 'ok' ? await countRecords(output) : null };
        fs.rmSync(output, { force: true });
      }
      agreement[input.label] = counts;
      log(
        `  records out: ${Object.entries(counts)
          .map(([t, c]) => `${t} ${c.records}`)
          .join(', ')}`,
      );
    }
    for (let r = 1; r <= rounds; r++) {
      const gate = await waitForQuiet(options.quiet, options.quietWait * 1000);
      const line = [];
      for (const [i, tool] of toolsFor(input, options).entries()) {
        // Big inputs: each run lasts minutes, so wait for a quiet machine before each tool too.
        if (i > 0 && input.bytes >= BIG) await waitForQuiet(options.quiet, options.quietWait * 1000);
        const run = await measure(tool, input.file, '/dev/null', options);
        runs.push({ size: input.label, bytes: input.bytes, round: r, roundStartBackgroundCores: gate.cores, ...run });
        line.push(`${tool} ${run.mbps ?? run.status} MB/s ${fmtBytes(run.peakRssBytes)} bg ${run.backgroundCores}`);
      }
      log(`${input.label} round ${r}/${rounds} (background at start ${gate.cores} cores): ${line.join(' | ')}`);
    }
  }

  const bySize = summarise(runs, inputs, options);
  const overTime = rssOverTime(runs, inputs[inputs.length - 1]);
  const memory = { ...memoryCheck(bySize, overTime), overTime };
  const profiles = [];
  if (options.profile) {
    const target = [...inputs].reverse().find((i) => i.bytes < BIG) ?? inputs[0];
    for (const rules of ['mlr', 'full']) {
      log(`profiling the engine (${rules}) on ${target.label} …`);
      profiles.push(await profileEngine(target.file, rules));
    }
  }
  const result = {
    benchmark: 'file-cleaning',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `node bench/file-cleaning/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { ...machineStart, loadAverageEnd: os.loadavg().map((v) => round(v, 2)) },
    settings: {
      seed: options.seed,
      sizes: options.sizes.map((s) => s.label),
      rounds: options.rounds,
      bigRounds: options.bigRounds,
      order: options.tools,
      tools: Object.fromEntries(options.tools.map((t) => [t, TOOLS[t].label])),
      duckdbThreads: options.threads,
      duckdbMemoryLimit: options.duckdbMemory,
      rssCapBytes: options.rssCap,
      timedOutputs: '/dev/null',
      throughput: 'input bytes (1 MB = 10^6 B) / process wall time, startup included',
      ratios: `median of per-round ratios of MB/s; quietMedian: over rounds where other work kept < ${QUIET_CORES} cores busy during both runs`,
      quietGate: `each round waits (up to ${options.quietWait} s) until other work keeps < ${options.quiet} cores busy`,
    },
    inputs: inputs.map(({ label, bytes, file, generatedMs, cached }) => ({ label, bytes, file: path.relative(ROOT, file), generatedMs, cached })),
    agreement,
    summary: bySize,
    memory,
    profiles,
    runs,
  };
  fs.mkdirSync(path.dirname(options.json), { recursive: true });
  fs.writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, options.json)}`);
  if (options.docs) {
    const committed = path.join(ROOT, 'bench', 'results', 'cleaning-latest.json');
    fs.writeFileSync(committed, `${JSON.stringify(committedSummary(result, options.json), null, 2)}\n`);
    log(`wrote ${path.relative(ROOT, committed)}`);
    const { writeDocs } = require('./report');
    const written = await writeDocs(result);
    for (const file of written) log(`wrote ${path.relative(ROOT, file)}`);
  }
  printTable(result);
  if (options.deleteData) {
    for (const input of inputs) {
      fs.rmSync(input.file, { force: true });
      fs.rmSync(`${input.file}.json`, { force: true });
    }
    log('deleted the generated inputs');
  }
}

/**
 * What is committed: the settings, summaries, ratios, memory verdicts and profiles, without the
 * raw samples (every timed run, every RSS point over time), which stay in the local raw file
 * named by `rawFile` (charts and docs are drawn from the raw result before this is written).
 */
function committedSummary(result, rawFile) {
  const { runs, ...rest } = result;
  const series = Object.fromEntries(
    Object.entries(result.memory.overTime?.series ?? {}).map(([tool, entry]) => [
      tool,
      { ...Object.fromEntries(Object.entries(entry).filter(([, value]) => value === null || typeof value !== 'object')), samples: entry.points?.length ?? 0 },
    ]),
  );
  return {
    ...rest,
    rawResult: {
      file: path.relative(ROOT, rawFile),
      runs: runs.length,
      note: 'raw samples stay local (bench/results is ignored but for the committed summaries)',
    },
    memory: { ...result.memory, overTime: result.memory.overTime && { ...result.memory.overTime, series } },
  };
}

function printTable(result) {
  const rows = [];
  for (const [label, s] of Object.entries(result.summary)) {
    for (const [tool, t] of Object.entries(s.tools)) {
      rows.push(
        `${label.padEnd(6)} ${tool.padEnd(12)} ${String(t.medianMbps ?? t.status).padStart(8)} MB/s  (${t.minMbps ?? '–'}–${t.maxMbps ?? '–'})  peak RSS ${fmtBytes(t.peakRssBytes).padStart(9)}` +
          (t.indexBytes ? `  index ${fmtBytes(t.indexBytes)}` : ''),
      );
    }
    const r = s.ratios;
    rows.push(
      `${label.padEnd(6)} engine/Miller ${r.engineVsMiller.median ?? '–'} (quiet ${r.engineVsMiller.quietMedian ?? '–'} over ${r.engineVsMiller.quietRounds}) [${r.engineVsMiller.perRound.join(', ')}]  ` +
        `engine/DuckDB ${r.engineVsDuckdb.median ?? '–'} (quiet ${r.engineVsDuckdb.quietMedian ?? '–'} over ${r.engineVsDuckdb.quietRounds}) [${r.engineVsDuckdb.perRound.join(', ')}]`,
    );
  }
  for (const [tool, e] of Object.entries(result.memory.overTime?.series ?? {})) {
    if (e.plateau !== undefined)
      rows.push(
        `memory over time ${result.memory.overTime.size} ${tool}: RSS − ArrayBuffers ${e.firstHalfMaxRssLessArrayBuffersMiB} → ${e.secondHalfMaxRssLessArrayBuffersMiB} MiB (1st → 2nd half) ${e.plateau ? 'plateau' : 'still growing'}`,
      );
  }
  for (const [tool, v] of Object.entries(result.memory.verdicts)) {
    const a = v.acrossSizes;
    rows.push(
      `memory ${tool}: ${v.flat === null ? 'no plateau test' : v.flat ? 'flat' : 'NOT flat'}${a ? `; peak RSS − 1.5 × index ${a.from} → ${a.to}: ${a.growthBytes >= 0 ? '+' : '-'}${fmtBytes(Math.abs(a.growthBytes))} (${a.growthPct} %)` : ''}`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

module.exports = { parseSize, TOOLS };

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}
