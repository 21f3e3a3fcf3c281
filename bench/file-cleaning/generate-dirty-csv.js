#!/usr/bin/env node
'use strict';
/**
 * Writes a reproducible dirty CSV for the file-cleaning benchmark: the same seed and size give
 * the same bytes. The dirt: padded and doubled whitespace (spaces, tabs, NBSP), random letter
 * case in names and emails, ~10 % duplicate rows (re-emitted with fresh whitespace/case noise,
 * so they are duplicates only after normalisation), ~2 % invalid emails, ~2 % invalid dates, dates
 * in several formats, ~1 % empty rows, quoted notes with commas, quotes and line breaks.
 *
 *   node bench/file-cleaning/generate-dirty-csv.js --size 100MB --seed 42 --out /tmp/dirty.csv
 *
 * Rules that clean it: see `BENCH_RULES` in this file (exported for the benchmark runner).
 */
const fs = require('node:fs');

const FIRST = [
  'anna',
  'ben',
  'chloé',
  'david',
  'emma',
  'felix',
  'greta',
  'hugo',
  'ida',
  'jonas',
  'karla',
  'lukas',
  'mia',
  'noah',
  "o'neil",
  'paul',
  'ruth',
  'sven',
  'tara',
  'ugo',
];
const LAST = [
  'müller',
  'schmidt',
  'smith',
  'garcía',
  'rossi',
  'dubois',
  'nowak',
  'jensen',
  'silva',
  'kowalski',
  'mcdonald',
  'van dyke',
  'ng',
  'okafor',
  'haddad',
];
const CITIES = ['Berlin', 'Hamburg', 'München', 'Köln', 'Paris', 'Lyon', 'Milano', 'Roma', 'Madrid', 'Wien', 'Zürich', 'New York'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.de'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NOTES = ['', '', '', 'VIP', 'call back, after 5pm', 'said "maybe"', 'line one\nline two', 'prefers email', 'n/a'];

/** The rules the benchmark runs with this file. */
const BENCH_RULES = {
  trimWhitespace: true,
  collapseWhitespace: true,
  emptyAsNull: true,
  dropEmptyRows: true,
  headers: { normalize: 'snake_case', rename: { 'E-Mail': 'email' } },
  columns: {
    email: { type: 'email', required: true, onInvalid: 'reject', case: 'lower' },
    first_name: { type: 'string', case: 'title' },
    last_name: { type: 'string', case: 'title' },
    signup_date: { type: 'date', onInvalid: 'null' },
    age: { type: 'integer', onInvalid: 'reject' },
    score: { type: 'number', onInvalid: 'null' },
    active: { type: 'boolean', onInvalid: 'null' },
  },
  dedupe: { keep: 'first' },
};

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text);
  if (!match) throw new Error(`bad size "${text}" (e.g. 50MB, 1GB)`);
  const unit = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[(match[2] || 'B').toUpperCase()];
  return Math.round(Number(match[1]) * unit);
}

function args(argv) {
  const options = { size: '50MB', seed: '42', out: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options)) throw new Error(`unknown option ${argv[i]}; use --size, --seed, --out`);
    options[key] = argv[i + 1];
  }
  if (!options.out) throw new Error('--out <file> is required');
  return { size: parseSize(options.size), seed: Number(options.seed), out: options.out };
}

function createGenerator(seed) {
  const random = mulberry32(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const chance = (p) => random() < p;
  const pad = () => (chance(0.5) ? '' : pick([' ', '  ', '\t', ' \u00a0', '   ']));
  const noisyCase = (s) => {
    const r = random();
    if (r < 0.6) return s;
    if (r < 0.75) return s.toUpperCase();
    if (r < 0.9) return s[0].toUpperCase() + s.slice(1);
    return [...s].map((ch) => (chance(0.5) ? ch.toUpperCase() : ch)).join('');
  };
  const inner = (s) => (chance(0.1) ? s.replace(' ', '  ') : s);
  const quote = (s) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const two = (n) => String(n).padStart(2, '0');

  function date(y, m, d) {
    switch (Math.floor(random() * 4)) {
      case 0:
        return `${y}-${two(m)}-${two(d)}`;
      case 1:
        return `${two(d)}.${two(m)}.${y}`;
      case 2:
        return `${d} ${MONTHS[m - 1]} ${y}`;
      default:
        return `${y}/${m}/${d}`;
    }
  }

  /** A fresh person: the canonical values, noise is added when the row is written. */
  function person(id) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const badEmail = chance(0.02);
    const local = `${first.replace(/[^a-z]/g, '')}.${last.replace(/[^a-z]/g, '')}${Math.floor(random() * 10000)}`;
    const email = badEmail ? pick([`${local}@`, `${local}.example.com`, `${local}@@example.com`, `@${pick(DOMAINS)}`]) : `${local}@${pick(DOMAINS)}`;
    const y = 1990 + Math.floor(random() * 35);
    const m = 1 + Math.floor(random() * 12);
    const d = 1 + Math.floor(random() * 28);
    const signup = chance(0.02) ? pick(['31.02.2024', '2024-13-01', 'yesterday', '03/04/2024']) : date(y, m, d);
    return {
      id,
      first,
      last,
      email,
      signup,
      age: chance(0.01) ? pick(['unknown', '4o', '-']) : String(18 + Math.floor(random() * 70)),
      city: pick(CITIES),
      score: (random() * 100).toFixed(chance(0.5) ? 2 : 1),
      active: pick(['yes', 'no', 'true', 'false', 'Y', 'N', '1', '0']),
      notes: pick(NOTES),
    };
  }

  function render(p) {
    const cells = [
      String(p.id),
      pad() + inner(noisyCase(p.first)) + pad(),
      pad() + noisyCase(p.last) + pad(),
      pad() + noisyCase(p.email) + pad(),
      pad() + p.signup + pad(),
      pad() + p.age + pad(),
      pad() + inner(p.city) + pad(),
      p.score,
      p.active,
      p.notes,
    ];
    return `${cells.map(quote).join(',')}\n`;
  }

  const recent = [];
  let nextId = 1;
  return function row() {
    if (chance(0.01)) return ',,,,,,,,,\n';
    if (recent.length > 100 && chance(0.1)) {
      // A duplicate of an earlier row (same id, so the whole row repeats after cleaning).
      return render(recent[Math.floor(random() * recent.length)]);
    }
    const p = person(nextId++);
    if (recent.length < 50_000) recent.push(p);
    else recent[Math.floor(random() * recent.length)] = p;
    return render(p);
  };
}

async function main() {
  const { size, seed, out } = args(process.argv.slice(2));
  const row = createGenerator(seed);
  const stream = fs.createWriteStream(out);
  let written = 0;
  let chunk = 'id,First Name,Last Name,E-Mail,Signup Date,Age,City,Score,Active,Notes\n';
  while (written + chunk.length < size) {
    chunk += row();
    if (chunk.length >= 1 << 20) {
      const buffer = Buffer.from(chunk);
      written += buffer.length;
      chunk = '';
      if (!stream.write(buffer)) await new Promise((resolve) => stream.once('drain', resolve));
    }
  }
  stream.end(chunk);
  await new Promise((resolve, reject) => stream.on('finish', resolve).on('error', reject));
  process.stdout.write(`${out}: ${fs.statSync(out).size} bytes (seed ${seed})\n`);
}

module.exports = { BENCH_RULES, createGenerator };

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
