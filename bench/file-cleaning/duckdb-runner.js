'use strict';
/**
 * Child process of the cleaning benchmark: the DuckDB peer (`@duckdb/node-api`, in-memory
 * database). It cleans every column the way `mlr clean-whitespace` does (whitespace runs → one
 * space, then trimmed) and keeps distinct rows, with one COPY statement:
 *
 *   COPY (SELECT DISTINCT trim(regexp_replace(c, '[\s\x{a0}]+', ' ', 'g')) AS c, …
 *         FROM read_csv(input, all_varchar = true, header = true, …)) TO output (HEADER)
 *
 * `\s` in RE2 (DuckDB's regex engine) is ASCII-only, so NBSP (which the generator puts in the
 * padding) is added to the class to match what the engine's trim/collapse removes.
 * Prints one JSON line: timings (the DESCRIBE that lists the columns and the COPY), rows written,
 * peak RSS (VmHWM) and the settings used.
 *
 *   node bench/file-cleaning/duckdb-runner.js --input f.csv [--output /dev/null] [--threads 2] [--memory-limit 4GB]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseRunnerArgs, procMemory } = require('./runner-args');

const DEFAULTS = { input: '', output: '/dev/null', threads: '2', 'memory-limit': '4GB', 'temp-dir': '', count: '' };

const literal = (text) => `'${String(text).replace(/'/g, "''")}'`;
const ident = (name) => `"${String(name).replace(/"/g, '""')}"`;

async function main() {
  const options = parseRunnerArgs(process.argv.slice(2), DEFAULTS);
  const { DuckDBInstance } = require('@duckdb/node-api');
  const tempDir = options['temp-dir'] || path.join(os.tmpdir(), `duckdb-bench-${process.pid}`);
  const instance = await DuckDBInstance.create(':memory:', {
    threads: options.threads,
    memory_limit: options['memory-limit'],
    temp_directory: tempDir,
  });
  const connection = await instance.connect();
  const version = (await connection.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;
  const source = `read_csv(${literal(options.input)}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')`;

  if (options.count) {
    // Helper mode (not timed): count the records of a CSV file, e.g. another tool's output.
    const rows = (await connection.runAndReadAll(`SELECT count(*) AS n FROM ${source}`)).getRowObjects();
    process.stdout.write(`${JSON.stringify({ records: Number(rows[0].n) })}\n`);
    return;
  }

  const rssBefore = procMemory('VmRSS');
  const started = process.hrtime.bigint();
  const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjects();
  const columns = described.map((row) => String(row.column_name));
  const describeMs = Number(process.hrtime.bigint() - started) / 1e6;
  const select = columns.map((c) => `trim(regexp_replace(${ident(c)}, '[\\s\\x{a0}]+', ' ', 'g')) AS ${ident(c)}`).join(', ');
  const sql = `COPY (SELECT DISTINCT ${select} FROM ${source}) TO ${literal(options.output)} (FORMAT csv, HEADER true)`;
  const result = await connection.runAndReadAll(sql);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const written = result.getRows()[0]?.[0];
  process.stdout.write(
    `${JSON.stringify({
      tool: 'duckdb',
      version,
      threads: Number(options.threads),
      memoryLimit: options['memory-limit'],
      bytes: fs.statSync(options.input).size,
      duckdbMs: Math.round(ms),
      describeMs: Math.round(describeMs),
      rowsOut: written === undefined ? null : Number(written),
      rssBeforeBytes: rssBefore,
      peakRssBytes: procMemory('VmHWM'),
      sql,
    })}\n`,
  );
  connection.closeSync?.();
  instance.closeSync?.();
  fs.rmSync(tempDir, { recursive: true, force: true });
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
