'use strict';
/** What the tool runners (engine, DuckDB) share: `--key value` options and /proc memory figures. */
const fs = require('node:fs');

/** `--key value` pairs over `defaults`; an unknown key or a missing `--input` is an error. */
function parseRunnerArgs(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options)) throw new Error(`unknown option ${argv[i]}`);
    options[key] = argv[i + 1];
  }
  if (!options.input) throw new Error('--input <file> is required');
  return options;
}

/** A memory field of this process (VmRSS, VmHWM, …) in bytes, or null. */
function procMemory(field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : null;
}

module.exports = { parseRunnerArgs, procMemory };
