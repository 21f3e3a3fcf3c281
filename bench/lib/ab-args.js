'use strict';
/**
 * Command-line options shared by the A/B benches (enqueue-ab.js, worker-ab.js): `value(name,
 * fallback)` reads `--name X`, and `dists` are the two builds named by the required `--a` / `--b`.
 */
const path = require('node:path');

function abArgs(argv) {
  const value = (name, fallback) => {
    const i = argv.indexOf(name);
    return i === -1 ? fallback : argv[i + 1];
  };
  const a = value('--a', null);
  const b = value('--b', null);
  if (!a || !b) throw new Error('--a DIST_A and --b DIST_B are required (see the header of the bench)');
  return { value, dists: { A: path.resolve(a), B: path.resolve(b) } };
}

module.exports = { abArgs };
