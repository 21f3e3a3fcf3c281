#!/usr/bin/env node
'use strict';
/**
 * `npm test`: installs dependencies if needed, then runs Jest on the project's Node 24 with
 * the flag Jest needs to load the ESM-only Nest packages from CommonJS tests
 * (--experimental-vm-modules). Arguments pass through to Jest, e.g.
 * `npm test -- --selectProjects unit` or `npm test -- --testPathPatterns ledger`.
 * Ends with one plain summary line, `tests: N passed, N failed, N skipped`.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, LOCAL_NODE, ensureDependencies } = require('./lib/project-node');

function main() {
  ensureDependencies();
  const resultsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'conveyor-tests-')), 'results.json');
  const jest = spawn(
    LOCAL_NODE,
    [
      '--experimental-vm-modules',
      '--disable-warning=ExperimentalWarning',
      path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--json',
      `--outputFile=${resultsFile}`,
      ...process.argv.slice(2),
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => jest.kill(signal));
  jest.on('exit', (code, signal) => {
    try {
      const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
      if (typeof results.numTotalTests !== 'number') throw new Error('no test results (e.g. --listTests)');
      const skipped = results.numPendingTests + results.numTodoTests;
      process.stdout.write(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
      if (results.numTotalTests === 0) {
        process.stderr.write('no test ran\n');
        process.exit(1);
      }
    } catch {
      // Jest ended before writing results (bad arguments, crash): its own output says why.
    }
    fs.rmSync(path.dirname(resultsFile), { recursive: true, force: true });
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
