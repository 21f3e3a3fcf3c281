import { CleaningError } from './cleaning-error';
import type { CompiledColumn, CompiledRules } from './cleaning-plan';
import type { CleaningReport, ColumnReport, ParseProblemKind } from './cleaning-report';
import { CsvParser, HAD_QUOTES, PLAIN, STRAY_QUOTE, TEXT_AFTER_QUOTE, TOO_LONG, UNTERMINATED_QUOTE } from './csv-parser';
import { DedupeIndex, hashCells, hashText } from './dedupe-index';
import type { FileFormat } from './format-sniffer';
import { HeaderMapper } from './header-mapping';
import { INVALID_UTF8_MARK, InputDecoder, REPLACEMENT_CHAR, type TextEncoding } from './input-decoder';
import { JsonlReader } from './jsonl-reader';
import type { OutputSink } from './output-sink';
import { collapseWhitespace, isWhitespace, needsCollapse } from './text-rules';

/** The file's shape, decided before the first pass (given or sniffed) and kept for the second. */
export interface PassSettings {
  format: FileFormat;
  /** csv/tsv input. */
  delimiter: string;
  encoding: TextEncoding;
  lineEnding: '\n' | '\r\n';
  outputFormat: FileFormat;
  outputDelimiter: string;
  /** Write a UTF-8 BOM at the start of the output and rejects files. */
  bom: boolean;
}

export interface PassLimits {
  maxRecordChars: number;
  maxProblems: number;
  maxColumns: number;
  maxWarnings: number;
}

/**
 * single: clean and write, keep:"first" dedupe if any; index: keep:"last" first read, only
 * records each key's last row; emit-last: keep:"last" second read, writes the recorded rows.
 */
export type PassMode = 'single' | 'index' | 'emit-last';

const PROBLEM_FLAGS = STRAY_QUOTE | TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG;
const MARK_RUN = new RegExp(INVALID_UTF8_MARK, 'g');
const DOUBLE_QUOTE = /"/g;
const REASON_VALUE_CHARS = 60;

function quoteForReason(value: string): string {
  const shown = value.length > REASON_VALUE_CHARS ? `${value.slice(0, REASON_VALUE_CHARS)}…` : value;
  return JSON.stringify(shown.replace(MARK_RUN, REPLACEMENT_CHAR));
}

function newColumnReport(column: CompiledColumn): ColumnReport {
  return { type: column.rule.type, invalid: 0, nulled: 0, kept: 0, rejected: 0, missing: 0, normalized: 0 };
}

/**
 * One read of the input through the whole row pipeline: decode → parse → whitespace → empty
 * cells/rows → header mapping → column types and case → dedupe → write. Rows are arrays
 * reused from row to row; the only per-row allocations are the strings themselves.
 */
export class CleaningPass {
  readonly decoder: InputDecoder;
  private readonly csv: CsvParser | undefined;
  private readonly jsonl: JsonlReader | undefined;
  private readonly rules: CompiledRules;
  private readonly report: CleaningReport;
  private readonly mapper: HeaderMapper;

  // Source slots: CSV header positions, or JSON keys in order of first appearance.
  private headerDone = false;
  private width = 0;
  private readonly rawHeader: string[] = [];
  private readonly slotOut: number[] = [];
  private readonly slotByKey = new Map<string, number>();
  private cleaned: Array<string | null | undefined> = [];
  private slotRaw = new Uint8Array(16);

  // Output columns.
  private readonly outNames: string[] = [];
  private readonly outSlot: number[] = [];
  private readonly outByName = new Map<string, number>();
  private out: Array<string | null | undefined> = [];
  private outRaw = new Uint8Array(16);
  private jsonKeys: string[] = [];
  /** JSONL → CSV: the header is fixed by the first row; -1 until then. */
  private csvWidth = -1;
  private readonly unplacedKeys = new Set<string>();

  // Column rules and dedupe, by output index (-1: column not seen yet).
  private readonly typed: CompiledColumn[];
  private readonly typedOut: number[];
  private readonly typedStats: ColumnReport[];
  private readonly dedupeNames: string[] | undefined;
  private dedupeCols: number[] = [];
  private ordinal = 0;
  /** The row has a value rewritten by a parser whose output may need CSV quoting (url, phone). */
  private rewritten = false;

  private marksSeen = 0;
  private readonly nullMaxLength: number;
  private readonly outDelimiter: string;
  private readonly inDelimiter: string;
  private readonly eol: string;
  private csvHeaderWritten = false;
  /** CSV/TSV written with the input's delimiter: PLAIN records need no quoting check. */
  private readonly samePlainDelimiter: boolean;

  constructor(
    private readonly settings: PassSettings,
    rules: CompiledRules,
    report: CleaningReport,
    private readonly limits: PassLimits,
    private readonly mode: PassMode,
    private readonly output: OutputSink,
    private readonly rejects: OutputSink,
    private readonly index: DedupeIndex | undefined,
  ) {
    this.rules = rules;
    this.report = report;
    this.decoder = new InputDecoder(settings.encoding);
    this.mapper = new HeaderMapper(rules.headers);
    this.typed = rules.columns;
    this.typedOut = rules.columns.map(() => -1);
    this.typedStats = rules.columns.map(newColumnReport);
    rules.columns.forEach((column, i) => (report.columns[column.name] = this.typedStats[i]));
    this.dedupeNames = rules.dedupe?.columns;
    this.nullMaxLength = Math.max(0, ...[...(rules.nullValues ?? [])].map((value) => value.length));
    this.inDelimiter = settings.delimiter;
    this.outDelimiter = settings.outputDelimiter;
    this.eol = settings.lineEnding;
    // A letter delimiter could appear through a case rule, so it never takes the shortcut.
    const d = settings.outputDelimiter;
    this.samePlainDelimiter =
      settings.format !== 'jsonl' && settings.outputFormat !== 'jsonl' && settings.delimiter === d && d.toLowerCase() === d.toUpperCase();
    if (settings.format === 'jsonl') {
      this.jsonl = new JsonlReader((text, line, tooLong) => this.onJsonLine(text, line, tooLong), limits.maxRecordChars);
    } else {
      this.csv = new CsvParser({ delimiter: settings.delimiter, maxRecordChars: limits.maxRecordChars }, (fields, count, line, flags, bad) =>
        this.onCsvRecord(fields, count, line, flags, bad),
      );
    }
  }

  feed(chunk: Buffer): void {
    const text = this.decoder.decode(chunk);
    if (text.length > 0) this.parse(text);
  }

  end(): void {
    const text = this.decoder.end();
    if (text.length > 0) this.parse(text);
    if (this.csv) this.csv.end();
    else this.jsonl!.end();
    this.finish();
  }

  private parse(text: string): void {
    if (this.csv) this.csv.push(text);
    else this.jsonl!.push(text);
  }

  // ---------------------------------------------------------------- report helpers

  private problem(kind: ParseProblemKind, line: number, message: string): void {
    const parse = this.report.parse;
    parse.counts[kind]++;
    if (parse.problems.length < this.limits.maxProblems) parse.problems.push({ line, kind, message });
    else parse.problemsTruncated = true;
  }

  private warn(message: string): void {
    if (this.report.warnings.length < this.limits.maxWarnings) this.report.warnings.push(message);
  }

  private get marksPending(): boolean {
    return this.decoder.invalidBytes > this.marksSeen;
  }

  /** Counts invalid-UTF-8 marks in the cells; > 0 means the row had undecodable bytes. */
  private countMarks(cells: ReadonlyArray<string | null | undefined>, count: number): number {
    let marks = 0;
    for (let j = 0; j < count; j++) {
      const cell = cells[j];
      if (typeof cell !== 'string') continue;
      for (let at = cell.indexOf(INVALID_UTF8_MARK); at !== -1; at = cell.indexOf(INVALID_UTF8_MARK, at + 1)) marks++;
    }
    this.marksSeen += marks;
    return marks;
  }

  // ---------------------------------------------------------------- cell rules

  /** Whitespace, null spellings and empty cells. */
  private cleanText(value: string): string | null {
    const rules = this.rules;
    const counts = this.report.rules;
    let v = value;
    if (rules.trim && v.length > 0) {
      // Native trim returns the same string when there is nothing to trim.
      const trimmed = v.trim();
      if (trimmed.length !== v.length) {
        v = trimmed;
        counts.cellsTrimmed++;
      }
    }
    if (rules.collapse && v.length > 1 && needsCollapse(v)) {
      v = collapseWhitespace(v);
      counts.cellsCollapsed++;
    }
    if (rules.nullValues && v.length > 0 && v.length <= this.nullMaxLength && rules.nullValues.has(v.toLowerCase())) {
      counts.nullValuesMatched++;
      v = '';
    }
    if (v.length === 0 && rules.emptyAsNull) {
      counts.cellsNulled++;
      return null;
    }
    return v;
  }

  /** Header names get the whitespace rules too (not counted as cells). */
  private cleanName(name: string): string {
    let v = name;
    if (this.rules.trim) v = v.trim();
    if (this.rules.collapse && needsCollapse(v)) v = collapseWhitespace(v);
    return v;
  }

  // ---------------------------------------------------------------- columns

  /** Adds an output column (a source slot, or -1 for a rule column the data has not shown yet). */
  private addOutColumn(name: string, slot: number): number {
    const k = this.outNames.length;
    this.outNames.push(name);
    this.outSlot.push(slot);
    this.outByName.set(name, k);
    this.jsonKeys.push(`${JSON.stringify(name)}:`);
    if (k >= this.outRaw.length) {
      const grown = new Uint8Array(this.outRaw.length * 2);
      grown.set(this.outRaw);
      this.outRaw = grown;
    }
    this.typed.forEach((column, t) => {
      if (column.name === name) this.typedOut[t] = k;
    });
    if (this.dedupeNames) {
      this.dedupeCols = this.dedupeNames.map((column) => this.outByName.get(column) ?? -1);
    } else {
      this.dedupeCols.push(k);
    }
    return k;
  }

  /** Maps a new source column (header cell or JSON key) through the header rules. */
  private addSlot(raw: string): number {
    const slot = this.rawHeader.length;
    this.rawHeader.push(raw);
    if (slot >= this.slotRaw.length) {
      const grown = new Uint8Array(this.slotRaw.length * 2);
      grown.set(this.slotRaw);
      this.slotRaw = grown;
    }
    const cleanedName = this.cleanName(raw.replace(MARK_RUN, REPLACEMENT_CHAR));
    const name = this.mapper.map(raw, cleanedName, slot);
    this.report.output.mapping.push({ from: raw, to: name ?? null });
    if (name === undefined) {
      this.slotOut.push(-1);
      return slot;
    }
    const existing = this.outByName.get(name);
    if (existing !== undefined && this.outSlot[existing] === -1) {
      this.outSlot[existing] = slot; // a rule column placed before its key appeared
      this.slotOut.push(existing);
    } else {
      this.slotOut.push(this.addOutColumn(name, slot));
    }
    return slot;
  }

  // ---------------------------------------------------------------- CSV / TSV

  private onCsvRecord(fields: string[], count: number, line: number, flags: number, badField: number): void {
    if (!this.headerDone) {
      if (count === 1 && fields[0].length === 0 && !(flags & HAD_QUOTES)) {
        this.report.parse.counts.blankLines++;
        return;
      }
      this.csvHeader(fields, count, line, flags);
      return;
    }
    if (count === 1 && fields[0].length === 0 && !(flags & HAD_QUOTES)) {
      this.report.parse.counts.blankLines++;
      return;
    }
    const report = this.report;
    report.rowsIn++;
    if ((flags & PROBLEM_FLAGS) !== 0) {
      if (flags & STRAY_QUOTE) this.problem('stray-quote', line, `a quote inside unquoted field ${badField + 1} was kept as written`);
      if (flags & (TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG)) {
        let reason: string;
        if (flags & TOO_LONG) {
          reason = `record longer than ${this.limits.maxRecordChars} characters`;
          this.problem('too-long', line, reason);
          report.rejects.tooLong++;
        } else {
          reason =
            flags & UNTERMINATED_QUOTE
              ? `bad quoting: the quote opening field ${badField + 1} is never closed`
              : `bad quoting: text after the closing quote of field ${badField + 1}`;
          this.problem('bad-quoting', line, reason);
          report.rejects.badQuoting++;
        }
        this.rejectCsv(fields, count, line, reason);
        return;
      }
    }
    if (this.marksPending && this.countMarks(fields, count) > 0) {
      const reason = 'invalid UTF-8 (shown as U+FFFD)';
      this.problem('invalid-utf8', line, reason);
      report.rejects.invalidUtf8++;
      this.rejectCsv(fields, count, line, reason);
      return;
    }
    if (count !== this.width) {
      let reason = `ragged row: ${count} fields, the header has ${this.width}`;
      if (count > this.width) {
        const extra = fields.slice(this.width, count).map(quoteForReason).join(', ');
        reason += `; extra fields: ${extra.length > 200 ? `${extra.slice(0, 200)}…` : extra}`;
      }
      this.problem('ragged-row', line, reason);
      report.rejects.ragged++;
      this.rejectCsv(fields, count, line, reason);
      return;
    }
    const cleaned = this.cleaned;
    let empty = true;
    for (let j = 0; j < count; j++) {
      const v = this.cleanText(fields[j]);
      cleaned[j] = v;
      if (v !== null && v.length > 0) empty = false;
    }
    if (empty && this.rules.dropEmptyRows) {
      report.emptyRowsDropped++;
      return;
    }
    const reason = this.applyColumns();
    if (reason !== undefined) {
      this.rejectCsv(fields, count, line, reason);
      return;
    }
    this.dedupeAndWrite((flags & PLAIN) !== 0 && this.samePlainDelimiter && !this.rewritten);
  }

  private csvHeader(fields: string[], count: number, line: number, flags: number): void {
    this.headerDone = true;
    if (flags & (TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG)) {
      this.problem('header', line, 'the header row has bad quoting; its cells are used as written');
    }
    if (this.marksPending && this.countMarks(fields, count) > 0) {
      this.problem('header', line, 'the header row has invalid UTF-8 (shown as U+FFFD)');
    }
    this.width = count;
    for (let j = 0; j < count; j++) this.addSlot(fields[j]);
    this.report.input.columns = this.rawHeader.map((name) => name.replace(MARK_RUN, REPLACEMENT_CHAR));
    for (const note of this.mapper.warnings) this.warn(note);
    for (const note of this.mapper.unusedEntries()) this.warn(note);
    const missing = [
      ...this.typed.filter((_, t) => this.typedOut[t] < 0).map((column) => `columns.${column.name}`),
      ...(this.dedupeNames ?? []).filter((name) => !this.outByName.has(name)).map((name) => `dedupe.columns: "${name}"`),
    ];
    if (missing.length > 0) {
      throw new CleaningError(
        'UNKNOWN_COLUMN',
        `${missing.join(', ')}: no such column after header mapping; the columns are ${this.outNames.map((name) => `"${name}"`).join(', ')}`,
      );
    }
    this.cleaned = new Array<string | null>(count).fill(null);
    this.out = new Array<string | null>(this.outNames.length).fill(null);
    if (this.settings.outputFormat !== 'jsonl') this.writeCsvHeader();
    this.writeRejectsHeader();
  }

  private rejectCsv(fields: string[], count: number, line: number, reason: string): void {
    this.report.rowsRejected++;
    if (!this.rejects.active) return;
    const d = this.inDelimiter;
    let text = '';
    const width = Math.max(this.width, 1);
    for (let j = 0; j < width; j++) {
      if (j > 0) text += d;
      const value = j < count ? fields[j] : '';
      text += this.field(value.includes(INVALID_UTF8_MARK) ? value.replace(MARK_RUN, REPLACEMENT_CHAR) : value, d);
    }
    text += `${d}${line}${d}${this.field(reason, d)}${this.eol}`;
    this.rejects.append(text);
  }

  private writeRejectsHeader(): void {
    if (!this.rejects.active || this.settings.format === 'jsonl') return;
    this.startFile(this.rejects, this.settings.format);
    const d = this.inDelimiter;
    const names = this.report.input.columns.length > 0 ? this.report.input.columns : [''];
    this.rejects.append(`${[...names, '_line', '_reason'].map((name) => this.field(name, d)).join(d)}${this.eol}`);
  }

  // ---------------------------------------------------------------- JSON Lines

  private onJsonLine(text: string, line: number, tooLong: boolean): void {
    const report = this.report;
    if (tooLong) {
      report.rowsIn++;
      const reason = `line longer than ${this.limits.maxRecordChars} characters`;
      this.problem('too-long', line, reason);
      report.rejects.tooLong++;
      this.rejectJsonRaw(text, line, reason);
      return;
    }
    let blank = true;
    for (let i = 0; i < text.length; i++) {
      if (!isWhitespace(text.charCodeAt(i))) {
        blank = false;
        break;
      }
    }
    if (blank) {
      report.parse.counts.blankLines++;
      return;
    }
    report.rowsIn++;
    this.headerDone = true;
    if (this.marksPending && text.includes(INVALID_UTF8_MARK)) {
      this.countMarks([text], 1);
      const reason = 'invalid UTF-8 (shown as U+FFFD)';
      this.problem('invalid-utf8', line, reason);
      report.rejects.invalidUtf8++;
      this.rejectJsonRaw(text.replace(MARK_RUN, REPLACEMENT_CHAR), line, reason);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const reason = `invalid JSON: ${(error as Error).message}`;
      this.problem('invalid-json', line, reason);
      report.rejects.invalidJson++;
      this.rejectJsonRaw(text, line, reason);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      const reason = `not a JSON object (${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed})`;
      this.problem('not-an-object', line, reason);
      report.rejects.notAnObject++;
      this.rejectJsonRaw(text, line, reason);
      return;
    }
    const object = parsed as Record<string, unknown>;
    const cleaned = this.cleaned;
    cleaned.fill(undefined);
    let empty = true;
    for (const key in object) {
      let slot = this.slotByKey.get(key);
      if (slot === undefined) {
        if (this.rawHeader.length >= this.limits.maxColumns) {
          const reason = `more than ${this.limits.maxColumns} distinct keys in the file; "${key}" is one too many`;
          report.rejects.tooLong++;
          this.problem('too-long', line, reason);
          this.rejectJson(text, line, reason);
          return;
        }
        slot = this.addSlot(key);
        this.slotByKey.set(key, slot);
        this.report.input.columns.push(key);
        cleaned.length = this.rawHeader.length;
      }
      const value = object[key];
      let cell: string | null;
      let raw = 0;
      if (typeof value === 'string') {
        cell = this.cleanText(value);
      } else if (value === null) {
        cell = null;
      } else if (typeof value === 'object') {
        cell = JSON.stringify(value);
        raw = 2;
      } else {
        cell = JSON.stringify(value); // numbers and booleans, as written in JSON
        raw = 1;
      }
      cleaned[slot] = cell;
      this.slotRaw[slot] = raw;
      if (cell !== null && cell.length > 0) empty = false;
    }
    if (empty && this.rules.dropEmptyRows) {
      report.emptyRowsDropped++;
      return;
    }
    if (this.csvWidth < 0 && this.settings.outputFormat !== 'jsonl') this.fixCsvHeader();
    const reason = this.applyColumns();
    if (reason !== undefined) {
      this.rejectJson(text, line, reason);
      return;
    }
    this.dedupeAndWrite(false);
  }

  /** JSONL → CSV: the first row's keys (plus rule columns it lacks) become the header. */
  private fixCsvHeader(): void {
    for (const column of this.typed) if (!this.outByName.has(column.name)) this.addOutColumn(column.name, -1);
    this.csvWidth = this.outNames.length;
    this.writeCsvHeader();
  }

  /** A rejected JSON object: the original line with `_line` and `_reason` added at its end. */
  private rejectJson(text: string, line: number, reason: string): void {
    this.report.rowsRejected++;
    if (!this.rejects.active) return;
    const close = text.lastIndexOf('}');
    const body = text.slice(0, close).trimEnd();
    const separator = body.endsWith('{') ? '' : ',';
    this.rejects.append(`${body}${separator}"_line":${line},"_reason":${JSON.stringify(reason)}}\n`);
  }

  /** A line that is not a JSON object: kept as a string in `_raw`. */
  private rejectJsonRaw(text: string, line: number, reason: string): void {
    this.report.rowsRejected++;
    if (!this.rejects.active) return;
    this.rejects.append(`{"_line":${line},"_reason":${JSON.stringify(reason)},"_raw":${JSON.stringify(text)}}\n`);
  }

  // ---------------------------------------------------------------- shared row tail

  /**
   * Copies the kept cells into output order and applies the column rules. Returns the reject
   * reason, or undefined when the row survives.
   */
  private applyColumns(): string | undefined {
    const out = this.out;
    const outRaw = this.outRaw;
    const outSlot = this.outSlot;
    const cleaned = this.cleaned;
    const slotRaw = this.slotRaw;
    const n = this.outNames.length;
    if (out.length < n) out.length = n;
    for (let k = 0; k < n; k++) {
      const slot = outSlot[k];
      if (slot < 0) {
        out[k] = undefined;
        outRaw[k] = 0;
      } else {
        out[k] = cleaned[slot];
        outRaw[k] = slotRaw[slot];
      }
    }
    const typed = this.typed;
    this.rewritten = false;
    if (typed.length === 0) return undefined;
    let reasons: string | undefined;
    let invalidValue = false;
    let missingRequired = false;
    const counts = this.report.rules;
    for (let t = 0; t < typed.length; t++) {
      const column = typed[t];
      const stats = this.typedStats[t];
      const k = this.typedOut[t];
      let value = k >= 0 ? out[k] : undefined;
      if (value === null || value === undefined || value.length === 0) {
        if (column.required) {
          stats.missing++;
          stats.rejected++;
          missingRequired = true;
          reasons = (reasons ? `${reasons}; ` : '') + `${column.name}: required value missing`;
        }
        continue;
      }
      const parser = column.parser;
      if (parser !== undefined || outRaw[k] === 2) {
        const parsed = outRaw[k] === 2 ? undefined : parser!.parse(value);
        if (parsed === undefined) {
          stats.invalid++;
          if (column.onInvalid === 'reject' || (column.onInvalid === 'null' && column.required)) {
            stats.rejected++;
            invalidValue = true;
            const kind = outRaw[k] === 2 ? `${column.rule.type} (a nested JSON value)` : `${column.rule.type} ${quoteForReason(value)}`;
            const why = outRaw[k] === 2 ? undefined : parser?.explain?.(value);
            reasons = (reasons ? `${reasons}; ` : '') + `${column.name}: invalid ${kind}${why ? ` (${why})` : ''}`;
            continue;
          }
          if (column.onInvalid === 'null') {
            stats.nulled++;
            out[k] = this.rules.emptyAsNull || this.settings.outputFormat === 'jsonl' ? null : '';
            outRaw[k] = 0;
            continue;
          }
          stats.kept++;
          outRaw[k] = 0;
        } else {
          if (parsed !== value) {
            stats.normalized++;
            counts.valuesNormalized++;
            value = parsed;
            out[k] = parsed;
            if (!parser!.csvSafe) this.rewritten = true;
          }
          outRaw[k] = parser!.json === 'raw' ? 1 : 0;
        }
      } else {
        outRaw[k] = 0; // a string column: JSON numbers and booleans become strings
      }
      if (column.applyCase !== undefined) {
        const cased = column.applyCase(value);
        if (cased !== value) {
          counts.cellsCased++;
          out[k] = cased;
        }
      }
    }
    if (reasons !== undefined) {
      if (invalidValue) this.report.rejects.invalidValue++;
      if (missingRequired) this.report.rejects.missingRequired++;
    }
    return reasons;
  }

  /**
   * Formats the row, drops it if its key was seen, writes it. Deduping on all columns hashes the
   * formatted line itself (an unambiguous encoding of the cells, null and "" alike), which costs
   * one pass over the text instead of one per cell.
   */
  private dedupeAndWrite(plain: boolean): void {
    const report = this.report;
    const jsonOut = this.settings.outputFormat === 'jsonl';
    const text = jsonOut ? this.formatJsonRow() : this.formatCsvRow(plain);
    const dedupe = this.rules.dedupe;
    if (dedupe) {
      if (this.dedupeNames || jsonOut) hashCells(this.out, this.dedupeCols, this.dedupeCols.length, dedupe.ignoreCase);
      else hashText(text, dedupe.ignoreCase);
      const index = this.index!;
      if (this.mode === 'index') {
        index.set(this.ordinal++);
        return;
      }
      if (this.mode === 'emit-last' ? index.get() !== this.ordinal++ : !index.add()) {
        report.duplicatesRemoved++;
        return;
      }
    }
    report.rowsOut++;
    if (this.mode !== 'index') this.output.append(text);
  }

  // ---------------------------------------------------------------- writers

  /** A BOM opens CSV/TSV files when the input had one (or the caller asked): Excel needs it. */
  private startFile(sink: OutputSink, format: FileFormat): void {
    if (format !== 'jsonl' && this.settings.bom && sink.active && sink.pendingChars === 0 && sink.bytes === 0) sink.append('\ufeff');
  }

  /** A CSV/TSV field, quoted only when it must be (delimiter, quote, line break). */
  private field(value: string, d: string): string {
    const delim = d.charCodeAt(0);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === delim || c === 34 || c === 10 || c === 13) return `"${value.replace(DOUBLE_QUOTE, '""')}"`;
    }
    return value;
  }

  private writeCsvHeader(): void {
    if (this.csvHeaderWritten) return;
    this.csvHeaderWritten = true;
    this.startFile(this.output, this.settings.outputFormat);
    const d = this.outDelimiter;
    this.output.append(`${this.outNames.map((name) => this.field(name, d)).join(d)}${this.eol}`);
  }

  /** `plain`: the cells cannot need quoting (a PLAIN record written with its own delimiter). */
  private formatCsvRow(plain: boolean): string {
    const out = this.out;
    const d = this.outDelimiter;
    const n = this.csvWidth >= 0 ? this.csvWidth : this.outNames.length;
    let text = '';
    for (let k = 0; k < n; k++) {
      const value = out[k];
      if (k > 0) text += d;
      if (value !== null && value !== undefined && value.length > 0) text += plain ? value : this.field(value, d);
    }
    if (this.csvWidth >= 0 && this.outNames.length > n) this.noteUnplaced(n);
    return text + this.eol;
  }

  /** JSONL → CSV: keys that first appeared after the header was written have no column. */
  private noteUnplaced(width: number): void {
    for (let k = width; k < this.outNames.length; k++) {
      const value = this.out[k];
      if (value === undefined || this.unplacedKeys.has(this.outNames[k])) continue;
      this.unplacedKeys.add(this.outNames[k]);
      this.warn(`key "${this.outNames[k]}" first appears after the first row, so the CSV output (whose header the first row fixes) leaves it out`);
    }
  }

  private formatJsonRow(): string {
    const out = this.out;
    const raw = this.outRaw;
    const keys = this.jsonKeys;
    let text = '{';
    for (let k = 0; k < this.outNames.length; k++) {
      const value = out[k];
      if (value === undefined) continue;
      if (text.length > 1) text += ',';
      text += keys[k];
      text += value === null ? 'null' : raw[k] !== 0 ? value : JSON.stringify(value);
    }
    return `${text}}\n`;
  }

  // ---------------------------------------------------------------- end of input

  private finish(): void {
    const report = this.report;
    if (!this.headerDone) {
      this.problem('empty-file', 0, report.parse.counts.blankLines > 0 ? 'the file has only blank lines' : 'the file is empty');
    }
    if (this.settings.format === 'jsonl') {
      for (const note of this.mapper.warnings) this.warn(note);
      for (const note of this.mapper.unusedEntries()) this.warn(note);
      this.typed.forEach((column, t) => {
        if (this.typedOut[t] < 0 || this.outSlot[this.typedOut[t]] < 0) this.warn(`columns.${column.name}: no row has this key`);
      });
      if (this.settings.outputFormat !== 'jsonl' && this.csvWidth < 0 && this.headerDone) this.fixCsvHeader();
    }
    report.output.columns = this.csvWidth >= 0 ? this.outNames.slice(0, this.csvWidth) : [...this.outNames];
    report.parse.counts.invalidUtf8Bytes = this.decoder.invalidBytes;
    if (this.decoder.bom) report.input.bom = true;
  }
}
