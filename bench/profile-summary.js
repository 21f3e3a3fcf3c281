#!/usr/bin/env node
'use strict';
/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof` or the bench's profile hook): the top
 * functions by self time, and self time per origin (our code under dist/ and libs/, each npm
 * package, Node internals, GC, idle).
 * Usage: node bench/profile-summary.js <file.cpuprofile> [--top 25] [--json]
 */
const fs = require('node:fs');

function origin(url) {
  if (!url) return null;
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node (internals)';
  if (/\/dist\/|\/libs\/|\/apps\//.test(url)) return 'conveyor (our code)';
  if (url.includes('/bench/')) return 'bench hook';
  return 'other';
}

function shortUrl(url) {
  if (!url) return '';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) return url.slice(modules + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Self time per node from samples and timeDeltas (µs), falling back to equal sample weights. */
function summarise(profile, { top = 25 } = {}) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const fallback = samples.length ? (profile.endTime - profile.startTime) / samples.length : 0;
  for (let i = 0; i < samples.length; i += 1) {
    // timeDeltas[i] is the time before sample i; attribute the gap after it to it instead.
    const weight = deltas[i + 1] ?? fallback;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + weight);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const origins = new Map();
  let idle = 0;
  for (const [id, micros] of self) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') idle += micros;
    const special = ['(idle)', '(program)', '(garbage collector)', '(root)'].includes(name);
    const where = special ? name : (origin(callFrame.url) ?? 'node (native)');
    origins.set(where, (origins.get(where) ?? 0) + micros);
    const key = `${name} ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`;
    const entry = functions.get(key) ?? { function: name, location: `${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`, origin: where, selfMs: 0 };
    entry.selfMs += micros / 1000;
    functions.set(key, entry);
  }
  const busy = total - idle;
  const pct = (micros) => Math.round((micros / busy) * 1000) / 10;
  return {
    wallMs: Math.round((profile.endTime - profile.startTime) / 1000),
    busyMs: Math.round(busy / 1000),
    idlePct: Math.round((idle / total) * 1000) / 10,
    topFunctions: [...functions.values()]
      .filter((f) => f.function !== '(idle)')
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), pctOfBusy: pct(f.selfMs * 1000) })),
    byOrigin: [...origins.entries()]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([name, micros]) => ({ origin: name, selfMs: Math.round(micros / 1000), pctOfBusy: pct(micros) })),
  };
}

function format(summary, title = '') {
  const lines = [`${title}wall ${summary.wallMs} ms, busy ${summary.busyMs} ms (idle ${summary.idlePct} %)`, '', 'self time by origin (% of busy):'];
  for (const o of summary.byOrigin.slice(0, 15)) lines.push(`  ${String(o.pctOfBusy).padStart(5)} %  ${o.origin}`);
  lines.push('', 'top functions by self time (% of busy):');
  for (const f of summary.topFunctions) lines.push(`  ${String(f.pctOfBusy).padStart(5)} %  ${f.function}  ${f.location}`);
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node bench/profile-summary.js <file.cpuprofile> [--top 25] [--json]');
    process.exit(2);
  }
  const topIndex = args.indexOf('--top');
  const summary = summarise(JSON.parse(fs.readFileSync(file, 'utf8')), { top: topIndex === -1 ? 25 : Number(args[topIndex + 1]) });
  console.log(args.includes('--json') ? JSON.stringify(summary, null, 2) : format(summary, `${file}\n`));
}

module.exports = { summarise, format };
