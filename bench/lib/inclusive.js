'use strict';
/**
 * Inclusive ("total") time per function in a .cpuprofile: every sample counts once for each
 * distinct function on its stack. Used next to the self-time summary to see which of our
 * entry points (ledger insert, logging, validation, …) a request's time sits under.
 * Usage: node bench/lib/inclusive.js <file.cpuprofile> [pattern] [--top 40]
 */
const fs = require('node:fs');

function inclusive(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map();
  let busy = 0;
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < profile.samples.length; i += 1) {
    const weight = deltas[i + 1] ?? 0;
    const leaf = byId.get(profile.samples[i]);
    if (leaf.callFrame.functionName === '(idle)') continue;
    busy += weight;
    const seen = new Set();
    for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const { functionName, url, lineNumber } = byId.get(id).callFrame;
      const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      totals.set(key, (totals.get(key) ?? 0) + weight);
    }
  }
  return { busy, totals };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const { busy, totals } = inclusive(JSON.parse(fs.readFileSync(args[0], 'utf8')));
  const pattern = args[1] && !args[1].startsWith('--') ? new RegExp(args[1]) : null;
  const top = Number(args[args.indexOf('--top') + 1]) || 40;
  const rows = [...totals]
    .filter(([k]) => !pattern || pattern.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [key, micros] of rows) console.log(`${((micros / busy) * 100).toFixed(1).padStart(5)} %  ${key}`);
}

module.exports = { inclusive };
