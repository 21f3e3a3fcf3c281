/**
 * A streaming CSV/TSV parser (RFC 4180 quoting: `"` quotes, `""` escapes, line breaks inside
 * quotes; CRLF, LF or CR line ends) that never throws on bad input: each record carries flags
 * describing what was wrong with it, and parsing goes on.
 *
 * Text is pushed chunk by chunk; a record split across chunks is resumed where scanning
 * stopped, so each character is looked at once. Records are delivered synchronously to the sink
 * in a reused array (copy what must outlive the call).
 *
 * Bad input and what happens:
 * - a `"` inside an unquoted field (`5" screen`): kept literally, flag STRAY_QUOTE;
 * - text after a closing quote (`"abc"def`): the field is kept raw, flag TEXT_AFTER_QUOTE;
 * - a quote never closed (at end of input, or a quoted field longer than 4 × maxRecordChars,
 *   which streaming cannot tell from a quote never closed): the record ends at the line break
 *   after the opening quote, flag UNTERMINATED_QUOTE, and parsing resumes on the next line, so
 *   one stray quote costs one row, not the rest of the file;
 * - a record whose fields add up to more than `maxRecordChars`: delivered with no fields and
 *   flag TOO_LONG (a monster line is skipped to its end without being held in memory).
 *
 * Every outcome depends only on the text, never on where chunks happen to end.
 */

export const STRAY_QUOTE = 1;
export const TEXT_AFTER_QUOTE = 2;
export const UNTERMINATED_QUOTE = 4;
export const TOO_LONG = 8;
/** Set when any field of the record was quoted (tells `""` apart from a blank line). */
export const HAD_QUOTES = 16;
/**
 * The record had no quotes and no line breaks: no field contains a quote, a line break or the
 * delimiter, so written back with the same delimiter it needs no quoting.
 */
export const PLAIN = 32;

/**
 * Receives a record: `fields[0..count)`, the 1-based line it starts on, its flags and the
 * 0-based index of the first field with a quoting problem (-1 when none).
 */
export type CsvRecordSink = (fields: string[], count: number, line: number, flags: number, badField: number) => void;

export interface CsvParserOptions {
  delimiter: string;
  /** Longest record, in UTF-16 code units, before it counts as runaway. Default 8 Mi. */
  maxRecordChars?: number;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

const S_FIELD_START = 0;
const S_UNQUOTED = 1;
const S_QUOTED = 2;
const S_QUOTED_QUOTE = 3;
const S_AFTER_QUOTE = 4;
const S_CR = 5;
const S_SKIP = 6;

const DOUBLED_QUOTES = /""/g;
/** How much of a runaway field is kept for the rejects file. */
const RUNAWAY_KEEP = 1024;
/** Raw text held for one record before it counts as runaway (a multiple of maxRecordChars). */
const HOLD_FACTOR = 4;

export class CsvParser {
  /** Physical line of the scan position (1-based). */
  line = 1;
  private readonly delim: number;
  private readonly maxRecordChars: number;
  private readonly holdChars: number;
  private readonly fields: string[] = [];
  private count = 0;
  private flags = 0;
  private badField = -1;
  private recordLine = 1;
  private fieldLine = 1;
  private escapes = false;
  private state = S_FIELD_START;
  /** Unconsumed text: starts at the current field's first character (its quote if quoted). */
  private pending = '';
  /** Where scanning resumes within `pending`. */
  private resumeAt = 0;

  constructor(
    options: CsvParserOptions,
    private readonly sink: CsvRecordSink,
  ) {
    if (options.delimiter.length !== 1) throw new Error('the delimiter must be one character');
    this.delim = options.delimiter.charCodeAt(0);
    if ([QUOTE, LF, CR].includes(this.delim)) throw new Error('the delimiter cannot be a quote or a line break');
    this.maxRecordChars = options.maxRecordChars ?? 1024 * 1024;
    this.holdChars = HOLD_FACTOR * this.maxRecordChars;
  }

  push(text: string): void {
    let s = this.pending.length > 0 ? this.pending + text : text;
    let start = this.resumeAt;
    this.pending = '';
    this.resumeAt = 0;
    // A runaway quote is cut off and the text after its line parsed again from scratch.
    for (let rest = this.scan(s, start, false); rest !== undefined; rest = this.scan(s, start, false)) {
      s = rest;
      start = 0;
    }
  }

  /** Ends the input: closes the last record, recovering from a quote left open. */
  end(): void {
    let s = this.pending;
    let start = this.resumeAt;
    this.pending = '';
    this.resumeAt = 0;
    for (let rest = this.scan(s, start, true); rest !== undefined; rest = this.scan(s, start, true)) {
      s = rest;
      start = 0;
    }
  }

  private emit(): void {
    if (this.count > 1 || (this.count === 1 && this.fields[0].length > this.maxRecordChars)) {
      let chars = this.count - 1;
      for (let f = 0; f < this.count; f++) chars += this.fields[f].length;
      if (chars > this.maxRecordChars) {
        this.count = 0;
        this.flags = (this.flags & HAD_QUOTES) | TOO_LONG;
        this.badField = 0;
      }
    }
    this.sink(this.fields, this.count, this.recordLine, this.flags, this.badField);
    this.count = 0;
    this.flags = 0;
    this.badField = -1;
  }

  private markBad(flag: number): void {
    this.flags |= flag;
    if (this.badField < 0) this.badField = this.count;
  }

  /**
   * Scans `s` from `start`; returns text to parse afresh after a runaway quote was cut off,
   * else keeps the unfinished field in `pending` (or, at the end, closes the last record).
   */
  private scan(s: string, start: number, atEnd: boolean): string | undefined {
    const delim = this.delim;
    const len = s.length;
    const fields = this.fields;
    let i = start;
    let fieldStart = 0;
    let state = this.state;
    let line = this.line;
    const delimiter = String.fromCharCode(delim);
    // Next positions of a line feed, quote, CR and delimiter (cached: each found once per text).
    let nextNl = -1;
    let nextQuote = -1;
    let nextCr = -1;
    let nextDelim = -1;

    // One loop over the text; states are small integers so the switch stays a jump table.
    outer: while (i < len) {
      switch (state) {
        case S_FIELD_START: {
          if (this.count === 0) {
            // Fast path for a whole record without quotes or stray CRs: native indexOf finds the
            // line end and each delimiter, and fields are sliced without a per-char loop.
            if (nextNl < i) nextNl = s.indexOf('\n', i);
            if (nextNl === -1) nextNl = len;
            if (nextQuote < i) nextQuote = s.indexOf('"', i);
            if (nextQuote === -1) nextQuote = len;
            if (nextCr < i) nextCr = s.indexOf('\r', i);
            if (nextCr === -1) nextCr = len;
            if (nextNl < len && nextQuote > nextNl && nextCr >= nextNl - 1) {
              const end = nextCr === nextNl - 1 ? nextCr : nextNl;
              let from = i;
              let count = 0;
              for (;;) {
                if (nextDelim < from) {
                  nextDelim = s.indexOf(delimiter, from);
                  if (nextDelim === -1) nextDelim = len;
                }
                if (nextDelim >= end) break;
                fields[count++] = s.slice(from, nextDelim);
                from = nextDelim + 1;
              }
              fields[count++] = s.slice(from, end);
              this.count = count;
              this.flags = PLAIN;
              this.emit();
              this.recordLine = ++line;
              i = nextNl + 1;
              continue;
            }
          }
          fieldStart = i;
          if (s.charCodeAt(i) === QUOTE) {
            this.fieldLine = line;
            this.escapes = false;
            this.flags |= HAD_QUOTES;
            state = S_QUOTED;
            i++;
          } else {
            state = S_UNQUOTED;
          }
          continue;
        }
        case S_UNQUOTED: {
          // The field ends at the nearest delimiter, LF or CR; found with the cached indexOf
          // positions, so unquoted fields of quoted records cost no per-char loop either.
          if (nextDelim < i) nextDelim = s.indexOf(delimiter, i);
          if (nextDelim === -1) nextDelim = len;
          if (nextNl < i) nextNl = s.indexOf('\n', i);
          if (nextNl === -1) nextNl = len;
          if (nextCr < i) nextCr = s.indexOf('\r', i);
          if (nextCr === -1) nextCr = len;
          if (nextQuote < i) nextQuote = s.indexOf('"', i);
          if (nextQuote === -1) nextQuote = len;
          const stop = nextDelim < nextNl ? (nextDelim < nextCr ? nextDelim : nextCr) : nextNl < nextCr ? nextNl : nextCr;
          if (nextQuote < stop) this.markBad(STRAY_QUOTE);
          if (stop === len) {
            i = len;
            break outer;
          }
          fields[this.count++] = s.slice(fieldStart, stop);
          i = stop + 1;
          if (stop === nextDelim) {
            state = S_FIELD_START;
          } else {
            this.emit();
            this.recordLine = ++line;
            state = stop === nextCr ? S_CR : S_FIELD_START;
          }
          continue;
        }
        case S_QUOTED: {
          const q = s.indexOf('"', i);
          const stop = q === -1 ? len : q;
          for (let nl = s.indexOf('\n', i); nl !== -1 && nl < stop; nl = s.indexOf('\n', nl + 1)) line++;
          if (q === -1) {
            i = len;
            break outer;
          }
          if (q + 1 - fieldStart > this.holdChars) {
            // As long as a runaway quote: treated as one, whether or not it closes later.
            this.state = S_QUOTED;
            this.line = line;
            return this.cutOpenQuote(s, fieldStart, atEnd);
          }
          i = q + 1;
          state = S_QUOTED_QUOTE;
          continue;
        }
        case S_QUOTED_QUOTE: {
          const c = s.charCodeAt(i);
          if (c === QUOTE) {
            this.escapes = true;
            state = S_QUOTED;
            i++;
            continue;
          }
          if (c === delim || c === LF || c === CR) {
            const value = s.slice(fieldStart + 1, i - 1);
            fields[this.count++] = this.escapes ? value.replace(DOUBLED_QUOTES, '"') : value;
            i++;
            if (c === delim) {
              state = S_FIELD_START;
            } else {
              this.emit();
              this.recordLine = ++line;
              state = c === CR ? S_CR : S_FIELD_START;
            }
            continue;
          }
          this.markBad(TEXT_AFTER_QUOTE);
          state = S_AFTER_QUOTE;
          continue;
        }
        case S_AFTER_QUOTE: {
          // The field is kept raw, quotes included: its intended value is unclear.
          for (;;) {
            if (i >= len) break outer;
            const c = s.charCodeAt(i);
            if (c === delim || c === LF || c === CR) {
              fields[this.count++] = s.slice(fieldStart, i);
              i++;
              if (c === delim) {
                state = S_FIELD_START;
              } else {
                this.emit();
                this.recordLine = ++line;
                state = c === CR ? S_CR : S_FIELD_START;
              }
              continue outer;
            }
            i++;
          }
        }
        case S_CR: {
          if (s.charCodeAt(i) === LF) i++;
          state = S_FIELD_START;
          continue;
        }
        case S_SKIP: {
          // The rest of an overlong line, already reported: drop it.
          const nl = s.indexOf('\n', i);
          if (nl === -1) {
            i = len;
            break outer;
          }
          this.recordLine = ++line;
          i = nl + 1;
          state = S_FIELD_START;
          continue;
        }
      }
    }

    if (state === S_FIELD_START || state === S_CR || state === S_SKIP) fieldStart = i;
    this.state = state;
    this.line = line;
    if (atEnd) return this.finish(s, fieldStart);

    // Memory guard: a record (or, in quotes, a field) held past HOLD_FACTOR × maxRecordChars.
    if (state === S_QUOTED || state === S_QUOTED_QUOTE) {
      if (len - fieldStart > this.holdChars) return this.cutOpenQuote(s, fieldStart, false);
    } else {
      let held = len - fieldStart;
      for (let f = 0; f < this.count; f++) held += fields[f].length;
      if (held > this.holdChars) {
        // An overlong line: reported without its fields and skipped to its end.
        this.count = 0;
        this.flags = (this.flags & HAD_QUOTES) | TOO_LONG;
        this.badField = 0;
        this.sink(this.fields, 0, this.recordLine, this.flags, 0);
        this.flags = 0;
        this.badField = -1;
        this.state = S_SKIP;
        return undefined;
      }
    }
    this.pending = fieldStart === 0 ? s : s.slice(fieldStart);
    this.resumeAt = i - fieldStart;
    return undefined;
  }

  /**
   * A quote opened at `fieldStart` is not closed: the record ends at the first line break after
   * it (the field kept raw) and the text after that line is returned to be parsed afresh.
   */
  private cutOpenQuote(s: string, fieldStart: number, atEnd: boolean): string | undefined {
    const nl = s.indexOf('\n', fieldStart);
    const cut = nl === -1 ? s.length : nl;
    const rawEnd = cut > fieldStart && s.charCodeAt(cut - 1) === CR ? cut - 1 : cut;
    this.markBad(UNTERMINATED_QUOTE);
    this.fields[this.count++] = s.slice(fieldStart, Math.min(rawEnd, fieldStart + RUNAWAY_KEEP));
    this.emit();
    this.state = nl === -1 && !atEnd ? S_SKIP : S_FIELD_START;
    this.line = this.fieldLine + (nl === -1 ? 0 : 1);
    this.recordLine = this.line;
    return nl === -1 ? undefined : s.slice(nl + 1);
  }

  private finish(s: string, fieldStart: number): string | undefined {
    const state = this.state;
    this.state = S_FIELD_START;
    switch (state) {
      case S_FIELD_START:
        if (this.count > 0) {
          this.fields[this.count++] = ''; // "a,b," at the very end
          this.emit();
        }
        return undefined;
      case S_UNQUOTED:
      case S_AFTER_QUOTE:
        this.fields[this.count++] = s.slice(fieldStart);
        this.emit();
        return undefined;
      case S_QUOTED_QUOTE: {
        const value = s.slice(fieldStart + 1, s.length - 1);
        this.fields[this.count++] = this.escapes ? value.replace(DOUBLED_QUOTES, '"') : value;
        this.emit();
        return undefined;
      }
      case S_QUOTED:
        return this.cutOpenQuote(s, fieldStart, true);
      default:
        return undefined;
    }
  }
}
