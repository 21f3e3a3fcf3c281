import { INVALID_UTF8_MARK, REPLACEMENT_CHAR } from './input-decoder';
import { JsonlReader } from './jsonl-reader';
import { MARK_RUN, type RowPipeline } from './row-pipeline';
import { isWhitespace } from './text-rules';

/**
 * JSON Lines into the row pipeline: each object's keys become source slots in order of first
 * appearance, its values cells (strings cleaned, numbers and booleans as written, nested values
 * as JSON). Rejects keep the line, with `_line` and `_reason` added (or the text in `_raw`).
 */
export class JsonlRecordSource {
  readonly reader: JsonlReader;
  /** A non-blank line was read. */
  headerDone = false;
  private readonly slotByKey = new Map<string, number>();

  constructor(private readonly rows: RowPipeline) {
    this.reader = new JsonlReader((text, line, tooLong) => this.onJsonLine(text, line, tooLong), rows.limits.maxRecordChars);
  }

  private onJsonLine(text: string, line: number, tooLong: boolean): void {
    const rows = this.rows;
    const report = rows.report;
    if (tooLong) {
      report.rowsIn++;
      const reason = `line longer than ${rows.limits.maxRecordChars} characters`;
      rows.problem('too-long', line, reason);
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
    if (rows.marksPending && text.includes(INVALID_UTF8_MARK)) {
      rows.countMarks([text], 1);
      const reason = 'invalid UTF-8 (shown as U+FFFD)';
      rows.problem('invalid-utf8', line, reason);
      report.rejects.invalidUtf8++;
      this.rejectJsonRaw(text.replace(MARK_RUN, REPLACEMENT_CHAR), line, reason);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const reason = `invalid JSON: ${(error as Error).message}`;
      rows.problem('invalid-json', line, reason);
      report.rejects.invalidJson++;
      this.rejectJsonRaw(text, line, reason);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      const reason = `not a JSON object (${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed})`;
      rows.problem('not-an-object', line, reason);
      report.rejects.notAnObject++;
      this.rejectJsonRaw(text, line, reason);
      return;
    }
    const object = parsed as Record<string, unknown>;
    const cleaned = rows.cleaned;
    cleaned.fill(undefined);
    let empty = true;
    for (const key in object) {
      let slot = this.slotByKey.get(key);
      if (slot === undefined) {
        if (rows.rawHeader.length >= rows.limits.maxColumns) {
          const reason = `more than ${rows.limits.maxColumns} distinct keys in the file; "${key}" is one too many`;
          report.rejects.tooLong++;
          rows.problem('too-long', line, reason);
          this.rejectJson(text, line, reason);
          return;
        }
        slot = rows.addSlot(key);
        this.slotByKey.set(key, slot);
        rows.report.input.columns.push(key);
        cleaned.length = rows.rawHeader.length;
      }
      const value = object[key];
      let cell: string | null;
      let raw = 0;
      if (typeof value === 'string') {
        cell = rows.cleanText(value);
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
      rows.slotRaw[slot] = raw;
      if (cell !== null && cell.length > 0) empty = false;
    }
    if (empty && rows.rules.dropEmptyRows) {
      report.emptyRowsDropped++;
      return;
    }
    if (rows.csvWidth < 0 && rows.settings.outputFormat !== 'jsonl') rows.fixCsvHeader();
    const reason = rows.applyColumns();
    if (reason !== undefined) {
      this.rejectJson(text, line, reason);
      return;
    }
    rows.dedupeAndWrite(false);
  }

  /** A rejected JSON object: the original line with `_line` and `_reason` added at its end. */
  private rejectJson(text: string, line: number, reason: string): void {
    this.rows.report.rowsRejected++;
    if (!this.rows.rejects.active) return;
    const close = text.lastIndexOf('}');
    const body = text.slice(0, close).trimEnd();
    const separator = body.endsWith('{') ? '' : ',';
    this.rows.rejects.append(`${body}${separator}"_line":${line},"_reason":${JSON.stringify(reason)}}\n`);
  }

  /** A line that is not a JSON object: kept as a string in `_raw`. */
  private rejectJsonRaw(text: string, line: number, reason: string): void {
    this.rows.report.rowsRejected++;
    if (!this.rows.rejects.active) return;
    this.rows.rejects.append(`{"_line":${line},"_reason":${JSON.stringify(reason)},"_raw":${JSON.stringify(text)}}\n`);
  }
}
