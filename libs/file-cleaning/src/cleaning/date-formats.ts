/**
 * Date and datetime parsing by declared formats, compiled once into token lists and matched by
 * a char loop (no per-value regex). Matching takes time linear in the format whatever the value:
 * a value longer than the format can match is skipped, and each optional group remembers the
 * positions where it already failed (see DateParser.seq), so backtracking never repeats work.
 *
 * Tokens: YYYY (4-digit year), YY (2-digit year: 00–68 → 20xx, 69–99 → 19xx, the POSIX pivot),
 * MMMM (January), MMM (Jan; "Sept" too), MM / M (month, 2 / 1–2 digits), DD / D (day), HH / H
 * (hour 0–23), hh / h (hour 1–12, with A), mm (minute), ss (second), SSS (fraction, 1–9
 * digits), A (AM/PM), Z (`Z`, `±HH`, `±HHmm`, `±HH:mm`). `[...]` makes a part optional. Any
 * other character is literal (letters match case-insensitively). Month names are English.
 */

const enum T {
  Lit,
  Opt,
  Year4,
  Year2,
  MonthName,
  MonthAbbr,
  Month2,
  Month,
  Day2,
  Day,
  Hour2,
  Hour,
  Hour12x2,
  Hour12,
  Minute2,
  Second2,
  Fraction,
  AmPm,
  Zone,
}

interface Token {
  kind: T;
  /** Literal char code (lower-cased for letters). */
  ch?: number;
  /** Optional group content. */
  group?: Token[];
  /** Optional group number within its format (0-based), for the failure memo. */
  id?: number;
}

export interface CompiledDateFormat {
  readonly source: string;
  readonly tokens: readonly Token[];
  readonly hasTime: boolean;
  /**
   * Shape of the format's start, to skip formats that cannot match without running them: the
   * leading run of digits (min..max) and what must follow it (a char code, LEAD_END, LEAD_LETTER,
   * or LEAD_ANY when the format cannot tell).
   */
  readonly lead: { min: number; max: number; next: number };
  /** Longest value the format can match, in characters. */
  readonly maxLength: number;
  /** Number of `[...]` groups, nested ones included. */
  readonly optionalGroups: number;
}

const LEAD_ANY = -2;
const LEAD_END = -1;
const LEAD_LETTER = -3;

const DIGIT_WIDTH = new Map<T, [number, number]>([
  [T.Year4, [4, 4]],
  [T.Year2, [2, 2]],
  [T.Month2, [2, 2]],
  [T.Month, [1, 2]],
  [T.Day2, [2, 2]],
  [T.Day, [1, 2]],
  [T.Hour2, [2, 2]],
  [T.Hour, [1, 2]],
  [T.Hour12x2, [2, 2]],
  [T.Hour12, [1, 2]],
  [T.Minute2, [2, 2]],
  [T.Second2, [2, 2]],
]);

function leadOf(tokens: readonly Token[]): CompiledDateFormat['lead'] {
  let min = 0;
  let max = 0;
  for (const token of tokens) {
    const width = DIGIT_WIDTH.get(token.kind);
    if (width) {
      min += width[0];
      max += width[1];
      continue;
    }
    if (token.kind === T.Lit) {
      const ch = token.ch!;
      return { min, max, next: ch >= 48 && ch <= 57 ? LEAD_ANY : ch };
    }
    if ((token.kind === T.MonthName || token.kind === T.MonthAbbr || token.kind === T.AmPm) && max === 0) {
      return { min, max, next: LEAD_LETTER };
    }
    return { min: 0, max: Number.MAX_SAFE_INTEGER, next: LEAD_ANY };
  }
  return { min, max, next: LEAD_END };
}

/** Most characters each token can consume (month names: "september"; zones: "+HH:mm"). */
function maxLengthOf(tokens: readonly Token[]): number {
  let length = 0;
  for (const token of tokens) {
    if (token.kind === T.Opt) length += maxLengthOf(token.group!);
    else if (token.kind === T.Lit) length += 1;
    else if (token.kind === T.Fraction || token.kind === T.MonthName) length += 9;
    else if (token.kind === T.MonthAbbr) length += 4;
    else if (token.kind === T.AmPm) length += 2;
    else if (token.kind === T.Zone) length += 6;
    else length += DIGIT_WIDTH.get(token.kind)![1];
  }
  return length;
}

const TOKEN_TABLE: ReadonlyArray<[string, T]> = [
  ['YYYY', T.Year4],
  ['YY', T.Year2],
  ['MMMM', T.MonthName],
  ['MMM', T.MonthAbbr],
  ['MM', T.Month2],
  ['M', T.Month],
  ['DD', T.Day2],
  ['D', T.Day],
  ['HH', T.Hour2],
  ['H', T.Hour],
  ['hh', T.Hour12x2],
  ['h', T.Hour12],
  ['mm', T.Minute2],
  ['ss', T.Second2],
  ['SSS', T.Fraction],
  ['A', T.AmPm],
  ['Z', T.Zone],
];

const YEAR = [T.Year4, T.Year2];
const MONTH = [T.MonthName, T.MonthAbbr, T.Month2, T.Month];
const DAY = [T.Day2, T.Day];
const HOUR = [T.Hour2, T.Hour, T.Hour12x2, T.Hour12];
const TIME = [...HOUR, T.Minute2, T.Second2, T.Fraction, T.AmPm, T.Zone];

function lower(code: number): number {
  return code >= 65 && code <= 90 ? code + 32 : code;
}

/** Compiles a format; throws an Error whose message says what is wrong with it. */
export function compileDateFormat(source: string): CompiledDateFormat {
  if (source.length === 0 || source.length > 64) throw new Error('must be 1–64 characters');
  let pos = 0;
  let groups = 0;
  const counts = new Map<T, number>();
  const parseSeq = (depth: number): Token[] => {
    const tokens: Token[] = [];
    while (pos < source.length) {
      const c = source[pos];
      if (c === '[') {
        pos++;
        const group = parseSeq(depth + 1);
        if (source[pos] !== ']') throw new Error(`has an unclosed "[" in "${source}"`);
        pos++;
        if (group.length === 0) throw new Error(`has an empty "[]" in "${source}"`);
        tokens.push({ kind: T.Opt, group, id: groups++ });
        continue;
      }
      if (c === ']') {
        if (depth === 0) throw new Error(`has a "]" without "[" in "${source}"`);
        return tokens;
      }
      const match = TOKEN_TABLE.find(([text]) => source.startsWith(text, pos));
      if (match) {
        tokens.push({ kind: match[1] });
        counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
        pos += match[0].length;
      } else {
        tokens.push({ kind: T.Lit, ch: lower(source.charCodeAt(pos)) });
        pos++;
      }
    }
    return tokens;
  };
  const tokens = parseSeq(0);
  const topLevel = new Set(tokens.map((token) => token.kind));
  const total = (kinds: T[]) => kinds.reduce((sum, kind) => sum + (counts.get(kind) ?? 0), 0);
  for (const [name, kinds] of [
    ['a year (YYYY or YY)', YEAR],
    ['a month (MMMM, MMM, MM or M)', MONTH],
    ['a day (DD or D)', DAY],
  ] as const) {
    if (total(kinds) !== 1 || !kinds.some((kind) => topLevel.has(kind))) {
      throw new Error(`must contain ${name} exactly once, outside "[...]": "${source}"`);
    }
  }
  for (const kind of [T.Minute2, T.Second2, T.Fraction, T.AmPm, T.Zone]) {
    if ((counts.get(kind) ?? 0) > 1) throw new Error(`repeats a time token: "${source}"`);
  }
  if (total(HOUR) > 1) throw new Error(`repeats the hour: "${source}"`);
  const has12 = total([T.Hour12, T.Hour12x2]) > 0;
  if (has12 !== total([T.AmPm]) > 0) throw new Error(`uses hh/h and A together or not at all: "${source}"`);
  if (total(TIME) > 0 && total(HOUR) === 0) throw new Error(`has time parts without an hour: "${source}"`);
  return { source, tokens, hasTime: total(TIME) > 0, lead: leadOf(tokens), maxLength: maxLengthOf(tokens), optionalGroups: groups };
}

/**
 * Defaults for `date` columns, tried in order. All are unambiguous: slash- and dash-separated
 * day/month forms with the year last (03/04/2024) are left out on purpose, since US and European
 * files read them differently; such values are invalid unless the column lists its formats
 * (`["MM/DD/YYYY"]` or `["DD/MM/YYYY"]`). Datetime values in a date column keep their date part.
 */
export const DEFAULT_DATE_FORMATS: readonly string[] = [
  'YYYY-M-D',
  'YYYY-M-DTH:mm[:ss[.SSS]][Z]',
  'YYYY-M-D H:mm[:ss[.SSS]][Z]',
  'YYYY/M/D',
  'YYYY.M.D',
  'YYYYMMDD',
  'D.M.YYYY',
  'D MMM YYYY',
  'D MMMM YYYY',
  'D-MMM-YYYY',
  'MMM D, YYYY',
  'MMMM D, YYYY',
  'MMM D YYYY',
  'MMMM D YYYY',
];

/** Defaults for `datetime` columns: ISO 8601 and common exports; a date alone means midnight. */
export const DEFAULT_DATETIME_FORMATS: readonly string[] = [
  'YYYY-M-DTH:mm[:ss[.SSS]][Z]',
  'YYYY-M-D H:mm[:ss[.SSS]][Z]',
  'YYYY/M/D H:mm[:ss]',
  'D.M.YYYY H:mm[:ss]',
  'D MMM YYYY H:mm[:ss]',
  'YYYY-M-D h:mm[:ss] A',
  ...DEFAULT_DATE_FORMATS.filter((format) => !format.includes('H')),
];

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** Parsed fields; index constants below. Reused per parser to avoid allocation. */
const F_YEAR = 0,
  F_MONTH = 1,
  F_DAY = 2,
  F_HOUR = 3,
  F_MIN = 4,
  F_SEC = 5,
  F_PM = 6, // -1 none, 0 am, 1 pm
  F_ZONE = 7, // 0 none, 1 present
  F_ZONE_MIN = 8, // signed offset in minutes
  F_FRAC_START = 9,
  F_FRAC_END = 10,
  F_COUNT = 11;

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : `${n}`;
}

/**
 * Parses values against an ordered list of compiled formats. `parseDate` returns `YYYY-MM-DD`,
 * `parseDatetime` ISO 8601 (`YYYY-MM-DDTHH:mm:ss[.fraction]`, converted to UTC with a `Z` when
 * the value carries an offset); both return undefined when no format matches or the date is not
 * a real calendar date.
 */
export class DateParser {
  private readonly formats: CompiledDateFormat[];
  private readonly f = new Int32Array(F_COUNT);
  private value = '';
  /**
   * Per format, (optional group, position) slots set to `attempt` when matching the rest of the
   * group's list from there failed in this attempt; a new attempt makes old marks stale.
   */
  private readonly failed: Uint32Array[];
  private memo: Uint32Array = new Uint32Array(0);
  private stride = 0;
  private attempt = 0;

  constructor(formats: readonly string[]) {
    this.formats = formats.map(compileDateFormat);
    this.failed = this.formats.map((format) => new Uint32Array(format.optionalGroups * (format.maxLength + 1)));
  }

  parseDate(value: string): string | undefined {
    if (!this.match(value)) return undefined;
    const f = this.f;
    return `${pad4(f[F_YEAR])}-${pad2(f[F_MONTH])}-${pad2(f[F_DAY])}`;
  }

  parseDatetime(value: string): string | undefined {
    if (!this.match(value)) return undefined;
    const f = this.f;
    let year = f[F_YEAR],
      month = f[F_MONTH],
      day = f[F_DAY],
      hour = f[F_HOUR],
      minute = f[F_MIN];
    if (f[F_ZONE]) {
      const date = new Date(0);
      date.setUTCFullYear(year, month - 1, day);
      date.setUTCHours(hour, minute - f[F_ZONE_MIN], 0, 0);
      year = date.getUTCFullYear();
      month = date.getUTCMonth() + 1;
      day = date.getUTCDate();
      hour = date.getUTCHours();
      minute = date.getUTCMinutes();
      if (year < 1 || year > 9999) return undefined;
    }
    const fraction = f[F_FRAC_END] > f[F_FRAC_START] ? `.${value.slice(f[F_FRAC_START], f[F_FRAC_END])}` : '';
    return `${pad4(year)}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(f[F_SEC])}${fraction}${f[F_ZONE] ? 'Z' : ''}`;
  }

  private match(value: string): boolean {
    this.value = value;
    let digits = 0;
    while (digits < value.length && isDigit(value.charCodeAt(digits))) digits++;
    const after = digits < value.length ? lower(value.charCodeAt(digits)) : LEAD_END;
    for (let k = 0; k < this.formats.length; k++) {
      const format = this.formats[k];
      if (value.length > format.maxLength) continue;
      const lead = format.lead;
      if (digits < lead.min || digits > lead.max) continue;
      if (lead.next !== LEAD_ANY && lead.next !== after && !(lead.next === LEAD_LETTER && isLetter(after))) continue;
      const f = this.f;
      f.fill(0);
      f[F_PM] = -1;
      if (format.optionalGroups > 0) this.startAttempt(k, format);
      if (this.seq(format.tokens, 0, 0) === value.length && this.valid()) return true;
    }
    return false;
  }

  private startAttempt(index: number, format: CompiledDateFormat): void {
    this.memo = this.failed[index];
    this.stride = format.maxLength + 1;
    if (++this.attempt === 0xffffffff) {
      // After 4 billion attempts the stamps wrap: start the memos afresh.
      for (const memo of this.failed) memo.fill(0);
      this.attempt = 1;
    }
  }

  private valid(): boolean {
    const f = this.f;
    if (f[F_PM] >= 0) {
      if (f[F_HOUR] < 1 || f[F_HOUR] > 12) return false;
      f[F_HOUR] = (f[F_HOUR] % 12) + (f[F_PM] === 1 ? 12 : 0);
    }
    return (
      f[F_YEAR] >= 1 &&
      f[F_MONTH] >= 1 &&
      f[F_MONTH] <= 12 &&
      f[F_DAY] >= 1 &&
      f[F_DAY] <= daysInMonth(f[F_YEAR], f[F_MONTH]) &&
      f[F_HOUR] <= 23 &&
      f[F_MIN] <= 59 &&
      f[F_SEC] <= 59
    );
  }

  /** Matches `tokens` from `index` at `pos`; returns the end position or -1. */
  private seq(tokens: readonly Token[], index: number, pos: number): number {
    const s = this.value;
    const f = this.f;
    for (let i = index; i < tokens.length; i++) {
      const token = tokens[i];
      switch (token.kind) {
        case T.Lit:
          if (pos >= s.length || lower(s.charCodeAt(pos)) !== token.ch) return -1;
          pos++;
          break;
        case T.Opt: {
          // Try with the group, then without; the first that lets the rest match wins. Whether
          // the rest of this list matches from a position does not depend on how we got there,
          // so a failure is remembered and never explored again: without this, n optional
          // groups in a row cost 2^n tries on a value that does not match.
          const slot = token.id! * this.stride + pos;
          if (this.memo[slot] === this.attempt) return -1;
          const saved = f.slice();
          const inner = this.seq(token.group!, 0, pos);
          if (inner >= 0) {
            const rest = this.seq(tokens, i + 1, inner);
            if (rest >= 0) return rest;
            f.set(saved);
          }
          const rest = this.seq(tokens, i + 1, pos);
          if (rest < 0) this.memo[slot] = this.attempt;
          return rest;
        }
        case T.Year4:
          pos = this.digits(pos, 4, 4, F_YEAR);
          break;
        case T.Year2:
          pos = this.digits(pos, 2, 2, F_YEAR);
          if (pos >= 0) f[F_YEAR] += f[F_YEAR] < 69 ? 2000 : 1900;
          break;
        case T.Month2:
          pos = this.digits(pos, 2, 2, F_MONTH);
          break;
        case T.Month:
          pos = this.digits(pos, 1, 2, F_MONTH);
          break;
        case T.Day2:
          pos = this.digits(pos, 2, 2, F_DAY);
          break;
        case T.Day:
          pos = this.digits(pos, 1, 2, F_DAY);
          break;
        case T.Hour2:
        case T.Hour12x2:
          pos = this.digits(pos, 2, 2, F_HOUR);
          break;
        case T.Hour:
        case T.Hour12:
          pos = this.digits(pos, 1, 2, F_HOUR);
          break;
        case T.Minute2:
          pos = this.digits(pos, 2, 2, F_MIN);
          break;
        case T.Second2:
          pos = this.digits(pos, 2, 2, F_SEC);
          break;
        case T.Fraction: {
          const start = pos;
          while (pos < s.length && pos - start < 9 && isDigit(s.charCodeAt(pos))) pos++;
          if (pos === start) return -1;
          f[F_FRAC_START] = start;
          f[F_FRAC_END] = pos;
          break;
        }
        case T.MonthName:
        case T.MonthAbbr:
          pos = this.monthName(pos, token.kind === T.MonthName);
          break;
        case T.AmPm: {
          if (pos + 1 >= s.length) return -1;
          const a = lower(s.charCodeAt(pos));
          if ((a !== 97 && a !== 112) || lower(s.charCodeAt(pos + 1)) !== 109) return -1;
          f[F_PM] = a === 112 ? 1 : 0;
          pos += 2;
          break;
        }
        case T.Zone:
          pos = this.zone(pos);
          break;
      }
      if (pos < 0) return -1;
    }
    return pos;
  }

  private digits(pos: number, min: number, max: number, field: number): number {
    const s = this.value;
    let n = 0;
    let count = 0;
    while (count < max && pos < s.length) {
      const c = s.charCodeAt(pos);
      if (!isDigit(c)) break;
      n = n * 10 + (c - 48);
      pos++;
      count++;
    }
    if (count < min) return -1;
    this.f[field] = n;
    return pos;
  }

  private monthName(pos: number, full: boolean): number {
    const s = this.value;
    let end = pos;
    while (end < s.length && isLetter(s.charCodeAt(end))) end++;
    const word = s.slice(pos, end).toLowerCase();
    if (word.length < 3) return -1;
    for (let m = 0; m < 12; m++) {
      const name = MONTHS[m];
      const ok = full ? word === name : word === name.slice(0, 3) || (m === 8 && word === 'sept');
      if (ok) {
        this.f[F_MONTH] = m + 1;
        return end;
      }
    }
    return -1;
  }

  private zone(pos: number): number {
    const s = this.value;
    if (pos >= s.length) return -1;
    const c = s.charCodeAt(pos);
    if (c === 90 || c === 122) {
      this.f[F_ZONE] = 1;
      this.f[F_ZONE_MIN] = 0;
      return pos + 1;
    }
    if (c !== 43 && c !== 45) return -1;
    const sign = c === 45 ? -1 : 1;
    let p = pos + 1;
    const hours = this.twoDigits(p);
    if (hours < 0 || hours > 23) return -1;
    p += 2;
    let minutes = 0;
    const colon = p < s.length && s.charCodeAt(p) === 58;
    if (colon) p++;
    const mm = this.twoDigits(p);
    if (mm >= 0) {
      if (mm > 59) return -1;
      minutes = mm;
      p += 2;
    } else if (colon) {
      return -1;
    }
    this.f[F_ZONE] = 1;
    this.f[F_ZONE_MIN] = sign * (hours * 60 + minutes);
    return p;
  }

  private twoDigits(pos: number): number {
    const s = this.value;
    if (pos + 1 >= s.length) return -1;
    const a = s.charCodeAt(pos);
    const b = s.charCodeAt(pos + 1);
    return isDigit(a) && isDigit(b) ? (a - 48) * 10 + (b - 48) : -1;
  }
}
