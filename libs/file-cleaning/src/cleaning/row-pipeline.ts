import type { CompiledColumn, CompiledRules } from './cleaning-plan';
import type { CleaningReport, ColumnReport, ParseProblemKind } from './cleaning-report';
import { DedupeIndex, hashCells, hashText } from './dedupe-index';
import type { FileFormat } from './format-sniffer';
import { HeaderMapper } from './header-mapping';
import { INVALID_UTF8_MARK, InputDecoder, REPLACEMENT_CHAR, type TextEncoding } from './input-decoder';
import type { OutputSink } from './output-sink';
import { collapseWhitespace, needsCollapse } from './text-rules';

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

export const MARK_RUN = new RegExp(INVALID_UTF8_MARK, 'g');
const DOUBLE_QUOTE = /"/g;
const REASON_VALUE_CHARS = 60;

/** A cell value as a reject reason shows it: quoted, cut at 60 characters, marks as U+FFFD. */
export function quoteForReason(value: string): string {
  const shown = value.length > REASON_VALUE_CHARS ? `${value.slice(0, REASON_VALUE_CHARS)}…` : value;
  return JSON.stringify(shown.replace(MARK_RUN, REPLACEMENT_CHAR));
}

function newColumnReport(column: CompiledColumn): ColumnReport {
  return { type: column.rule.type, invalid: 0, nulled: 0, kept: 0, rejected: 0, missing: 0, normalized: 0 };
}

/**
 * The row pipeline of a cleaning pass, whatever the input format: a record source (CSV/TSV or
 * JSON Lines) maps its columns to source slots (`addSlot`), puts each record's cells, with the
 * whitespace and null rules applied (`cleanText`), into `cleaned` and hands the row on; here
 * it becomes an output row (header mapping, column types and case), is deduped and written.
 * Rows are arrays reused from row to row; the only per-row allocations are the strings
 * themselves. It also keeps the report's problems and warnings, and the output's writers.
 */
export class RowPipeline {
  // Source slots: CSV header positions, or JSON keys in order of first appearance. The record
  // source fills `cleaned` (and `slotRaw` for JSON values) per row.
  readonly rawHeader: string[] = [];
  private readonly slotOut: number[] = [];
  cleaned: Array<string | null | undefined> = [];
  slotRaw = new Uint8Array(16);

  // Output columns.
  readonly outNames: string[] = [];
  private readonly outSlot: number[] = [];
  readonly outByName = new Map<string, number>();
  out: Array<string | null | undefined> = [];
  private outRaw = new Uint8Array(16);
  private jsonKeys: string[] = [];
  /** JSONL → CSV: the header is fixed by the first row; -1 until then. */
  csvWidth = -1;
  private readonly unplacedKeys = new Set<string>();

  // Column rules and dedupe, by output index (-1: column not seen yet).
  readonly typed: CompiledColumn[];
  readonly typedOut: number[];
  private readonly typedStats: ColumnReport[];
  readonly dedupeNames: string[] | undefined;
  private dedupeCols: number[] = [];
  private ordinal = 0;
  /** The row has a value rewritten by a parser whose output may need CSV quoting (url, phone). */
  rewritten = false;

  private marksSeen = 0;
  private readonly nullMaxLength: number;
  private readonly outDelimiter: string;
  readonly eol: string;
  private csvHeaderWritten = false;
  /** CSV/TSV written with the input's delimiter: PLAIN records need no quoting check. */
  readonly samePlainDelimiter: boolean;
  readonly mapper: HeaderMapper;

  constructor(
    readonly settings: PassSettings,
    readonly rules: CompiledRules,
    readonly report: CleaningReport,
    readonly limits: PassLimits,
    private readonly mode: PassMode,
    private readonly output: OutputSink,
    readonly rejects: OutputSink,
    private readonly index: DedupeIndex | undefined,
    private readonly decoder: InputDecoder,
  ) {
    this.mapper = new HeaderMapper(rules.headers);
    this.typed = rules.columns;
    this.typedOut = rules.columns.map(() => -1);
    this.typedStats = rules.columns.map(newColumnReport);
    rules.columns.forEach((column, i) => (report.columns[column.name] = this.typedStats[i]));
    this.dedupeNames = rules.dedupe?.columns;
    this.nullMaxLength = Math.max(0, ...[...(rules.nullValues ?? [])].map((value) => value.length));
    this.outDelimiter = settings.outputDelimiter;
    this.eol = settings.lineEnding;
    // A letter delimiter could appear through a case rule, so it never takes the shortcut.
    const d = settings.outputDelimiter;
    this.samePlainDelimiter =
      settings.format !== 'jsonl' && settings.outputFormat !== 'jsonl' && settings.delimiter === d && d.toLowerCase() === d.toUpperCase();
  }

  // ---------------------------------------------------------------- report helpers

  problem(kind: ParseProblemKind, line: number, message: string): void {
    const parse = this.report.parse;
    parse.counts[kind]++;
    if (parse.problems.length < this.limits.maxProblems) parse.problems.push({ line, kind, message });
    else parse.problemsTruncated = true;
  }

  warn(message: string): void {
    if (this.report.warnings.length < this.limits.maxWarnings) this.report.warnings.push(message);
  }

  get marksPending(): boolean {
    return this.decoder.invalidBytes > this.marksSeen;
  }

  /** Counts invalid-UTF-8 marks in the cells; > 0 means the row had undecodable bytes. */
  countMarks(cells: ReadonlyArray<string | null | undefined>, count: number): number {
    let marks = 0;
    for (let j = 0; j < count; j++) {
      const cell = cells[j];
      if (typeof cell !== 'string') continue;
      for (let at = cell.indexOf(INVALID_UTF8_MARK); at !== -1; at = cell.indexOf(INVALID_UTF8_MARK, at + 1)) marks++;
    }
    this.marksSeen += marks;
    return marks;
  }

  /** Whitespace, null spellings and empty cells. */
  cleanText(value: string): string | null {
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

  /** Adds an output column (a source slot, or -1 for a rule column the data has not shown yet). */
  addOutColumn(name: string, slot: number): number {
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
  addSlot(raw: string): number {
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

  /** JSONL → CSV: the first row's keys (plus rule columns it lacks) become the header. */
  fixCsvHeader(): void {
    for (const column of this.typed) if (!this.outByName.has(column.name)) this.addOutColumn(column.name, -1);
    this.csvWidth = this.outNames.length;
    this.writeCsvHeader();
  }

  /**
   * Copies the kept cells into output order and applies the column rules. Returns the reject
   * reason, or undefined when the row survives.
   */
  applyColumns(): string | undefined {
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
  dedupeAndWrite(plain: boolean): void {
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
  startFile(sink: OutputSink, format: FileFormat): void {
    if (format !== 'jsonl' && this.settings.bom && sink.active && sink.pendingChars === 0 && sink.bytes === 0) sink.append('\ufeff');
  }

  /** A CSV/TSV field, quoted only when it must be (delimiter, quote, line break). */
  field(value: string, d: string): string {
    const delim = d.charCodeAt(0);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === delim || c === 34 || c === 10 || c === 13) return `"${value.replace(DOUBLE_QUOTE, '""')}"`;
    }
    return value;
  }

  writeCsvHeader(): void {
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

  /** Warnings about the columns once the whole input is read, and the output's final header. */
  finish(sawRecords: boolean): void {
    const report = this.report;
    if (this.settings.format === 'jsonl') {
      for (const note of this.mapper.warnings) this.warn(note);
      for (const note of this.mapper.unusedEntries()) this.warn(note);
      this.typed.forEach((column, t) => {
        if (this.typedOut[t] < 0 || this.outSlot[this.typedOut[t]] < 0) this.warn(`columns.${column.name}: no row has this key`);
      });
      if (this.settings.outputFormat !== 'jsonl' && this.csvWidth < 0 && sawRecords) this.fixCsvHeader();
    }
    report.output.columns = this.csvWidth >= 0 ? this.outNames.slice(0, this.csvWidth) : [...this.outNames];
  }
}
