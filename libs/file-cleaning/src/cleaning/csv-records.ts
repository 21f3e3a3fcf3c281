import { CleaningError } from './cleaning-error';
import { CsvParser, HAD_QUOTES, PLAIN, STRAY_QUOTE, TEXT_AFTER_QUOTE, TOO_LONG, UNTERMINATED_QUOTE } from './csv-parser';
import { INVALID_UTF8_MARK, REPLACEMENT_CHAR } from './input-decoder';
import { MARK_RUN, quoteForReason, type RowPipeline } from './row-pipeline';

const PROBLEM_FLAGS = STRAY_QUOTE | TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG;

/**
 * CSV/TSV records into the row pipeline: the first non-blank record is the header; each later
 * one is checked (quoting, invalid UTF-8, width), rejected with its reason or cleaned cell by
 * cell into the pipeline's row. Rejects keep the record as read, with `_line` and `_reason`.
 */
export class CsvRecordSource {
  readonly parser: CsvParser;
  headerDone = false;
  private width = 0;
  private readonly inDelimiter: string;

  constructor(private readonly rows: RowPipeline) {
    this.inDelimiter = rows.settings.delimiter;
    this.parser = new CsvParser({ delimiter: rows.settings.delimiter, maxRecordChars: rows.limits.maxRecordChars }, (fields, count, line, flags, bad) =>
      this.onCsvRecord(fields, count, line, flags, bad),
    );
  }

  private onCsvRecord(fields: string[], count: number, line: number, flags: number, badField: number): void {
    const rows = this.rows;
    if (!this.headerDone) {
      if (count === 1 && fields[0].length === 0 && !(flags & HAD_QUOTES)) {
        rows.report.parse.counts.blankLines++;
        return;
      }
      this.csvHeader(fields, count, line, flags);
      return;
    }
    if (count === 1 && fields[0].length === 0 && !(flags & HAD_QUOTES)) {
      rows.report.parse.counts.blankLines++;
      return;
    }
    const report = rows.report;
    report.rowsIn++;
    if ((flags & PROBLEM_FLAGS) !== 0) {
      if (flags & STRAY_QUOTE) rows.problem('stray-quote', line, `a quote inside unquoted field ${badField + 1} was kept as written`);
      if (flags & (TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG)) {
        let reason: string;
        if (flags & TOO_LONG) {
          reason = `record longer than ${rows.limits.maxRecordChars} characters`;
          rows.problem('too-long', line, reason);
          report.rejects.tooLong++;
        } else {
          reason =
            flags & UNTERMINATED_QUOTE
              ? `bad quoting: the quote opening field ${badField + 1} is never closed`
              : `bad quoting: text after the closing quote of field ${badField + 1}`;
          rows.problem('bad-quoting', line, reason);
          report.rejects.badQuoting++;
        }
        this.rejectCsv(fields, count, line, reason);
        return;
      }
    }
    if (rows.marksPending && rows.countMarks(fields, count) > 0) {
      const reason = 'invalid UTF-8 (shown as U+FFFD)';
      rows.problem('invalid-utf8', line, reason);
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
      rows.problem('ragged-row', line, reason);
      report.rejects.ragged++;
      this.rejectCsv(fields, count, line, reason);
      return;
    }
    const cleaned = rows.cleaned;
    let empty = true;
    for (let j = 0; j < count; j++) {
      const v = rows.cleanText(fields[j]);
      cleaned[j] = v;
      if (v !== null && v.length > 0) empty = false;
    }
    if (empty && rows.rules.dropEmptyRows) {
      report.emptyRowsDropped++;
      return;
    }
    const reason = rows.applyColumns();
    if (reason !== undefined) {
      this.rejectCsv(fields, count, line, reason);
      return;
    }
    rows.dedupeAndWrite((flags & PLAIN) !== 0 && rows.samePlainDelimiter && !rows.rewritten);
  }

  private csvHeader(fields: string[], count: number, line: number, flags: number): void {
    this.headerDone = true;
    if (flags & (TEXT_AFTER_QUOTE | UNTERMINATED_QUOTE | TOO_LONG)) {
      this.rows.problem('header', line, 'the header row has bad quoting; its cells are used as written');
    }
    if (this.rows.marksPending && this.rows.countMarks(fields, count) > 0) {
      this.rows.problem('header', line, 'the header row has invalid UTF-8 (shown as U+FFFD)');
    }
    this.width = count;
    for (let j = 0; j < count; j++) this.rows.addSlot(fields[j]);
    this.rows.report.input.columns = this.rows.rawHeader.map((name) => name.replace(MARK_RUN, REPLACEMENT_CHAR));
    for (const note of this.rows.mapper.warnings) this.rows.warn(note);
    for (const note of this.rows.mapper.unusedEntries()) this.rows.warn(note);
    const missing = [
      ...this.rows.typed.filter((_, t) => this.rows.typedOut[t] < 0).map((column) => `columns.${column.name}`),
      ...(this.rows.dedupeNames ?? []).filter((name) => !this.rows.outByName.has(name)).map((name) => `dedupe.columns: "${name}"`),
    ];
    if (missing.length > 0) {
      throw new CleaningError(
        'UNKNOWN_COLUMN',
        `${missing.join(', ')}: no such column after header mapping; the columns are ${this.rows.outNames.map((name) => `"${name}"`).join(', ')}`,
      );
    }
    this.rows.cleaned = new Array<string | null>(count).fill(null);
    this.rows.out = new Array<string | null>(this.rows.outNames.length).fill(null);
    if (this.rows.settings.outputFormat !== 'jsonl') this.rows.writeCsvHeader();
    this.writeRejectsHeader();
  }

  private rejectCsv(fields: string[], count: number, line: number, reason: string): void {
    this.rows.report.rowsRejected++;
    if (!this.rows.rejects.active) return;
    const d = this.inDelimiter;
    let text = '';
    const width = Math.max(this.width, 1);
    for (let j = 0; j < width; j++) {
      if (j > 0) text += d;
      const value = j < count ? fields[j] : '';
      text += this.rows.field(value.includes(INVALID_UTF8_MARK) ? value.replace(MARK_RUN, REPLACEMENT_CHAR) : value, d);
    }
    text += `${d}${line}${d}${this.rows.field(reason, d)}${this.rows.eol}`;
    this.rows.rejects.append(text);
  }

  private writeRejectsHeader(): void {
    if (!this.rows.rejects.active || this.rows.settings.format === 'jsonl') return;
    this.rows.startFile(this.rows.rejects, this.rows.settings.format);
    const d = this.inDelimiter;
    const names = this.rows.report.input.columns.length > 0 ? this.rows.report.input.columns : [''];
    this.rows.rejects.append(`${[...names, '_line', '_reason'].map((name) => this.rows.field(name, d)).join(d)}${this.rows.eol}`);
  }
}
