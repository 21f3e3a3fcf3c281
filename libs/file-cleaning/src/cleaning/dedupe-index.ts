import { CleaningError } from './cleaning-error';

/**
 * The dedupe index: a 64-bit hash per distinct key, never the key text, in an open-addressing
 * table over typed arrays (8 bytes a slot, 12 with the keep:"last" row number; load ≤ 0.7, so
 * about 11–23 bytes per distinct key, 17–34 with row numbers).
 *
 * The hash is two 32-bit lanes with different round functions (a MurmurHash3 lane and an
 * xxHash32-style lane) over a length-prefixed encoding of the key's cells, so ["ab","c"] and
 * ["a","bc"] differ. Two distinct keys collide with probability ~2^-64 per pair: for 100 million
 * distinct keys the chance that any pair collides (and one row is wrongly dropped as a
 * duplicate) is about 3 × 10^-4. The input is the uploader's own file, so a crafted collision
 * could only hurt the uploader.
 */

const SEED_A = 0x9747b28c | 0;
const SEED_B = 0x2f0e1c5d | 0;

/** Result of the last `hashCells` call (avoids allocating a pair per row). */
export const keyHash = new Int32Array(2);

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Hashes the key cells `values[columns[0..count)]` into `keyHash`. Each non-empty cell is fed as
 * (its position in the key, its length, its UTF-16 units two per 32-bit word); empty and null
 * cells are skipped, so they compare equal, and a column that appears only later in a JSON
 * Lines file does not change the keys of rows without it. With `ignoreCase`, cells are compared
 * lower-cased.
 */
export function hashCells(values: ReadonlyArray<string | null | undefined>, columns: ArrayLike<number>, count: number, ignoreCase: boolean): void {
  let a = SEED_A;
  let b = SEED_B;
  let words = 0;
  for (let c = 0; c < count; c++) {
    let value = values[columns[c]];
    if (value === null || value === undefined || value.length === 0) continue;
    if (ignoreCase) value = value.toLowerCase();
    const n = value.length;
    let k = c;
    for (let i = -2; ; i += 2) {
      // lane A: MurmurHash3 x86_32 block
      let ka = Math.imul(k, 0xcc9e2d51);
      ka = (ka << 15) | (ka >>> 17);
      a ^= Math.imul(ka, 0x1b873593);
      a = (a << 13) | (a >>> 19);
      a = (Math.imul(a, 5) + 0xe6546b64) | 0;
      // lane B: xxHash32 round
      b = (b + Math.imul(k, 0x85ebca77)) | 0;
      b = (b << 13) | (b >>> 19);
      b = Math.imul(b, 0x9e3779b1);
      words++;
      if (i === -2) {
        k = n;
        continue;
      }
      if (i >= n) break;
      k = i + 1 < n ? value.charCodeAt(i) | (value.charCodeAt(i + 1) << 16) : value.charCodeAt(i);
    }
  }
  a ^= words;
  b ^= Math.imul(words, 0x27d4eb2f);
  a = fmix(a ^ (b >>> 7));
  b = fmix(b ^ a);
  keyHash[0] = a;
  keyHash[1] = b === 0 && a === 0 ? 1 : b; // (0, 0) marks an empty slot
}

/** Hashes one string (a formatted output line) into `keyHash`, with the same lanes. */
export function hashText(text: string, ignoreCase: boolean): void {
  const value = ignoreCase ? text.toLowerCase() : text;
  const n = value.length;
  let a = SEED_A ^ n;
  let b = SEED_B;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const k = value.charCodeAt(i) | (value.charCodeAt(i + 1) << 16);
    let ka = Math.imul(k, 0xcc9e2d51);
    ka = (ka << 15) | (ka >>> 17);
    a ^= Math.imul(ka, 0x1b873593);
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    b = (b + Math.imul(k, 0x85ebca77)) | 0;
    b = (b << 13) | (b >>> 19);
    b = Math.imul(b, 0x9e3779b1);
  }
  if (i < n) {
    const k = value.charCodeAt(i);
    let ka = Math.imul(k, 0xcc9e2d51);
    ka = (ka << 15) | (ka >>> 17);
    a ^= Math.imul(ka, 0x1b873593);
    b = (b + Math.imul(k, 0x85ebca77)) | 0;
    b = (b << 13) | (b >>> 19);
    b = Math.imul(b, 0x9e3779b1);
  }
  b ^= Math.imul(n, 0x27d4eb2f);
  a = fmix(a ^ (b >>> 7));
  b = fmix(b ^ a);
  keyHash[0] = a;
  keyHash[1] = b === 0 && a === 0 ? 1 : b;
}

const MAX_LOAD = 0.7;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
const INITIAL_SLOTS = 1 << 14;

/** Open-addressing hash set (optionally map to a row number) of 64-bit hashes. */
export class DedupeIndex {
  private slots: Int32Array;
  private rows: Uint32Array | undefined;
  private mask: number;
  private limitSize: number;
  size = 0;

  constructor(
    private readonly withRows: boolean,
    private readonly maxBytes: number,
  ) {
    this.allocate(INITIAL_SLOTS);
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.slots.byteLength + (this.rows?.byteLength ?? 0);
  }

  /** Adds the hash in `keyHash`; false when it was already present (a duplicate). */
  add(): boolean {
    const i = this.probe();
    if (this.isTaken(i)) return false;
    this.take(i);
    return true;
  }

  /** Records `row` as the latest row of the key in `keyHash`. */
  set(row: number): void {
    const i = this.probe();
    const taken = this.isTaken(i);
    this.rows![i] = row;
    if (!taken) this.take(i);
  }

  /** The row recorded for the key in `keyHash`, or -1. */
  get(): number {
    const i = this.probe();
    return this.isTaken(i) ? this.rows![i] : -1;
  }

  /** The slot of the hash in `keyHash`: where it is, or the empty slot where it would go. */
  private probe(): number {
    const a = keyHash[0];
    const b = keyHash[1];
    const slots = this.slots;
    let i = a & this.mask;
    for (;;) {
      const sa = slots[2 * i];
      const sb = slots[2 * i + 1];
      if ((sa === 0 && sb === 0) || (sa === a && sb === b)) return i;
      i = (i + 1) & this.mask;
    }
  }

  private isTaken(i: number): boolean {
    return this.slots[2 * i] !== 0 || this.slots[2 * i + 1] !== 0;
  }

  /** Stores the hash in `keyHash` in the empty slot `i` (which probe() returned). */
  private take(i: number): void {
    this.slots[2 * i] = keyHash[0];
    this.slots[2 * i + 1] = keyHash[1];
    if (++this.size > this.limitSize) this.grow();
  }

  private allocate(count: number): void {
    const bytes = count * (this.withRows ? 12 : 8);
    if (bytes > this.maxBytes) {
      throw new CleaningError(
        'DEDUPE_INDEX_LIMIT',
        `the dedupe index would need ${mib(bytes)} for more than ${this.size} distinct keys, over its ${mib(this.maxBytes)} budget ` +
          '(dedupe on fewer columns, or raise limits.maxDedupeIndexBytes)',
      );
    }
    this.slots = new Int32Array(2 * count);
    this.rows = this.withRows ? new Uint32Array(count) : undefined;
    this.mask = count - 1;
    this.limitSize = Math.floor(count * MAX_LOAD);
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldRows = this.rows;
    this.allocate((this.mask + 1) * 2);
    const slots = this.slots;
    const rows = this.rows;
    for (let j = 0; j < oldSlots.length / 2; j++) {
      const a = oldSlots[2 * j];
      const b = oldSlots[2 * j + 1];
      if (a === 0 && b === 0) continue;
      let i = a & this.mask;
      while (slots[2 * i] !== 0 || slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
      slots[2 * i] = a;
      slots[2 * i + 1] = b;
      if (rows) rows[i] = oldRows![j];
    }
  }
}
