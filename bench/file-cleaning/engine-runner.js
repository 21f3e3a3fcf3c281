'use strict';
/**
 * Child process of the cleaning benchmark: streams one file through Conveyor's engine
 * (`cleanStream`) and prints one JSON line with its timings, the report's counts and its own
 * peak RSS (VmHWM). Run by run.js; also usable by hand, e.g. to profile:
 *
 *   node --cpu-prof --cpu-prof-dir /tmp/prof bench/file-cleaning/engine-runner.js \
 *     --input bench/file-cleaning/.data/dirty-100MB-seed42.csv --rules mlr
 *
 * --rules: mlr (trim + collapse whitespace, dedupe on all columns: what
 * `mlr clean-whitespace then uniq -a` does), trim (the same without dedupe), full (BENCH_RULES
 * of generate-dirty-csv.js), or a path to a JSON rules file.
 * --output / --rejects: files to write (default /dev/null; rejects only with --rejects).
 * --engine-dir: a folder of engine .ts sources to use instead of libs/ (for prototypes).
 * --sample-ms: interval of the in-process memory samples (default 250).
 * --repeat: clean the file this many times in one process (default 1); the JSON line describes
 *   the last run and lists each run's time under `repeats`.
 */
const fs = require('node:fs');
const path = require('node:path');
const { parseRunnerArgs, procMemory } = require('./runner-args');
const { loadEngine } = require('./load-engine');
const { BENCH_RULES } = require('./generate-dirty-csv');

const RULE_SETS = {
  mlr: { trimWhitespace: true, collapseWhitespace: true, dedupe: { keep: 'first' } },
  trim: { trimWhitespace: true, collapseWhitespace: true },
  full: BENCH_RULES,
};

const DEFAULTS = {
  input: '',
  rules: 'mlr',
  output: '/dev/null',
  rejects: '',
  'engine-dir': '',
  'read-chunk': String(1 << 20),
  'sample-ms': '250',
  repeat: '1',
};

async function main() {
  const options = parseRunnerArgs(process.argv.slice(2), DEFAULTS);
  const rules = RULE_SETS[options.rules] ?? JSON.parse(fs.readFileSync(options.rules, 'utf8'));
  const { cleanStream } = loadEngine(options['engine-dir'] ? { sourceDir: path.resolve(options['engine-dir']) } : undefined);
  const rssBefore = procMemory('VmRSS');
  const totalBytes = fs.statSync(options.input).size;
  const started = process.hrtime.bigint();
  // Memory over time, sampled in-process every --sample-ms (the engine awaits I/O between chunks,
  // so the timer runs): RSS, V8 heap and ArrayBuffer memory (the dedupe index and I/O buffers).
  const memorySeries = [];
  const sample = () => {
    const m = process.memoryUsage();
    const mib = (bytes) => Math.round(bytes / 2 ** 20);
    memorySeries.push([Math.round(Number(process.hrtime.bigint() - started) / 1e8) / 10, mib(m.rss), mib(m.heapTotal), mib(m.heapUsed), mib(m.arrayBuffers)]);
  };
  const sampler = setInterval(sample, Number(options['sample-ms']));
  // --repeat N cleans the file N times in this process, as a long-running worker would: the
  // later runs show the engine with its modules loaded and its code optimised.
  const repeats = [];
  let report;
  let ms = 0;
  for (let r = 0; r < Number(options.repeat); r++) {
    const runStarted = process.hrtime.bigint();
    report = await cleanStream({
      input: fs.createReadStream(options.input, { highWaterMark: Number(options['read-chunk']) }),
      totalBytes,
      format: 'csv',
      delimiter: ',',
      encoding: 'utf-8',
      rules,
      output: fs.createWriteStream(options.output, { highWaterMark: 1 << 20 }),
      rejects: options.rejects ? fs.createWriteStream(options.rejects, { highWaterMark: 1 << 20 }) : undefined,
    });
    ms = Number(process.hrtime.bigint() - runStarted) / 1e6;
    repeats.push({ engineMs: Math.round(ms), mbps: Math.round((totalBytes / 1e6 / (ms / 1000)) * 100) / 100 });
  }
  clearInterval(sampler);
  sample();
  const memory = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      tool: 'engine',
      rules: options.rules,
      bytes: totalBytes,
      engineMs: Math.round(ms),
      rssBeforeBytes: rssBefore,
      peakRssBytes: procMemory('VmHWM'),
      heapUsedBytes: memory.heapUsed,
      arrayBuffersBytes: memory.arrayBuffers,
      rowsIn: report.rowsIn,
      rowsOut: report.rowsOut,
      rowsRejected: report.rowsRejected,
      duplicatesRemoved: report.duplicatesRemoved,
      emptyRowsDropped: report.emptyRowsDropped,
      distinctKeys: report.dedupe?.distinctKeys ?? null,
      indexBytes: report.dedupe?.indexBytes ?? null,
      timings: report.timings,
      repeats,
      memorySeries: { columns: ['s', 'rssMiB', 'heapTotalMiB', 'heapUsedMiB', 'arrayBuffersMiB'], points: memorySeries },
    })}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
