import type { ExportFormat } from '../exports.contract';

/**
 * How a cell is written: text is quoted or escaped, a number is written as is, json is JSON text;
 * `value` holds a JSON value as JavaScript (a string, number, boolean, object or array), e.g. a
 * field of a JSON Lines file, written as text, a literal or JSON text as the format wants.
 */
export type CellKind = 'text' | 'number' | 'json' | 'value';

export interface ExportColumn {
  name: string;
  kind: CellKind;
}

/** One value of a row; a `json` cell holds JSON text; only a `value` cell holds a boolean or an object. */
export type Cell = string | number | boolean | object | null;

/**
 * Turns rows into the bytes of one format. Encoders work on strings a page at a time, so the
 * stream behind them sees few, large chunks.
 */
export interface RowEncoder {
  readonly contentType: string;
  readonly extension: string;
  /** What comes before the first row (the CSV header, JSON's opening bracket). */
  head(): string;
  row(cells: readonly Cell[]): string;
  /** What comes after the last row. */
  tail(): string;
}

export interface EncoderOptions {
  /** csv only. */
  delimiter?: string;
}

export function createEncoder(format: ExportFormat, columns: readonly ExportColumn[], options: EncoderOptions = {}): RowEncoder {
  switch (format) {
    case 'csv':
      return new CsvEncoder(columns, options.delimiter ?? ',');
    case 'jsonl':
      return new JsonLinesEncoder(columns);
    case 'json':
      return new JsonArrayEncoder(columns);
  }
}

/** A spreadsheet reads a cell starting with one of these as a formula (CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A plain number (e.g. -5, +1.5e3) is left alone: a spreadsheet reads it as the same number either way. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * RFC 4180: CRLF line ends, a header row, a field quoted when it holds the delimiter, a quote or
 * a line break, quotes doubled inside. A text cell that a spreadsheet would run as a formula is
 * prefixed with a single quote, which spreadsheets show as text.
 */
export class CsvEncoder implements RowEncoder {
  readonly contentType = 'text/csv; charset=utf-8';
  readonly extension = 'csv';
  private readonly needsQuotes: RegExp;

  constructor(
    private readonly columns: readonly ExportColumn[],
    private readonly delimiter: string,
  ) {
    this.needsQuotes = new RegExp(`["\\r\\n${delimiter === '\t' ? '\\t' : delimiter === '|' ? '\\|' : delimiter}]`);
  }

  head(): string {
    return this.columns.map((column) => this.text(column.name)).join(this.delimiter) + '\r\n';
  }

  row(cells: readonly Cell[]): string {
    let line = '';
    for (let i = 0; i < cells.length; i += 1) {
      if (i > 0) line += this.delimiter;
      const cell = cells[i];
      if (cell === null) continue;
      // Numbers are the database's own (no quotes, nothing to escape), whether typed or as text.
      if (typeof cell === 'object') line += this.text(JSON.stringify(cell));
      else if (typeof cell !== 'string' || this.columns[i].kind === 'number') line += String(cell);
      else line += this.text(cell);
    }
    return line + '\r\n';
  }

  tail(): string {
    return '';
  }

  /** One text field, escaped and quoted as needed. */
  text(value: string): string {
    if (FORMULA_START.test(value) && !PLAIN_NUMBER.test(value)) value = `'${value}`;
    return this.needsQuotes.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }
}

/** `"name":` for each column, encoded once. */
const keysOf = (columns: readonly ExportColumn[]) => columns.map((column) => `${JSON.stringify(column.name)}:`);

function jsonValue(cell: Cell, kind: CellKind): string {
  if (cell === null) return 'null';
  if (typeof cell === 'object') return JSON.stringify(cell);
  // JSON text and numbers (typed, or as the database's text) are JSON values already.
  if (kind === 'json' || kind === 'number' || typeof cell === 'number') return String(cell);
  return JSON.stringify(cell);
}

function jsonObject(keys: readonly string[], columns: readonly ExportColumn[], cells: readonly Cell[]): string {
  let text = '{';
  for (let i = 0; i < cells.length; i += 1) text += (i > 0 ? ',' : '') + keys[i] + jsonValue(cells[i], columns[i].kind);
  return text + '}';
}

/** One JSON object per line. */
export class JsonLinesEncoder implements RowEncoder {
  readonly contentType = 'application/x-ndjson';
  readonly extension = 'jsonl';
  private readonly keys: string[];

  constructor(private readonly columns: readonly ExportColumn[]) {
    this.keys = keysOf(columns);
  }

  head(): string {
    return '';
  }

  row(cells: readonly Cell[]): string {
    return jsonObject(this.keys, this.columns, cells) + '\n';
  }

  tail(): string {
    return '';
  }
}

/** One JSON array, written as it goes: `[`, objects separated by commas, `]`. */
export class JsonArrayEncoder implements RowEncoder {
  readonly contentType = 'application/json';
  readonly extension = 'json';
  private readonly keys: string[];
  private first = true;

  constructor(private readonly columns: readonly ExportColumn[]) {
    this.keys = keysOf(columns);
  }

  head(): string {
    return '[';
  }

  row(cells: readonly Cell[]): string {
    const separator = this.first ? '\n' : ',\n';
    this.first = false;
    return separator + jsonObject(this.keys, this.columns, cells);
  }

  tail(): string {
    return this.first ? ']\n' : '\n]\n';
  }
}
