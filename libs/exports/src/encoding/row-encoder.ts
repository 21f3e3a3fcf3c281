import type { ExportFormat } from '../exports.contract';

/**
 * How a cell is written: text is quoted or escaped, a number is written as is, json is JSON text;
 * `plain` is text that never needs quoting or escaping (a uuid, an ISO 8601 time): written as is,
 * in quotes in JSON; `value` holds a JSON value as JavaScript (a string, number, boolean, object
 * or array), e.g. a field of a JSON Lines file, written as text, a literal or JSON text as the
 * format wants.
 */
export type CellKind = 'text' | 'plain' | 'number' | 'json' | 'value';

export interface ExportColumn {
  name: string;
  kind: CellKind;
}

/** One value of a row; a `json` cell holds JSON text; only a `value` cell holds a boolean or an object. */
export type Cell = string | number | boolean | object | null;

/**
 * Turns rows into the bytes of one format, a page at a time: the stream behind sees few, large
 * chunks. A row is built by one join over a reused array of its pieces (separators, keys and
 * cells) rather than by concatenating cell after cell: one flat string per row instead of a
 * chain of short-lived pieces, which is most of what the garbage collector had to do.
 */
export interface RowEncoder {
  readonly contentType: string;
  readonly extension: string;
  /** What comes before the first row (the CSV header, JSON's opening bracket). */
  head(): string;
  /** Rows in order, as the text that follows what came before. */
  page(rows: readonly (readonly Cell[])[]): string;
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

/** True for the first characters a spreadsheet reads as a formula (= + - @ tab CR: CSV injection). */
const formulaStart = (code: number) => code === 61 || code === 43 || code === 45 || code === 64 || code === 9 || code === 13;
/** A plain number (e.g. -5, +1.5e3) is left alone: a spreadsheet reads it as the same number either way. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Encodes rows with one reused array: `pieces[2i + 1]` takes cell i, the other slots hold what
 * surrounds it (fixed per column), and each row is `pieces.join('')`.
 */
function joinRows(pieces: string[], rows: readonly (readonly Cell[])[], cell: (value: Cell, column: number) => string, separator: string): string {
  const width = pieces.length >> 1;
  const lines = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r += 1) {
    const row = rows[r];
    for (let c = 0; c < width; c += 1) pieces[2 * c + 1] = cell(row[c], c);
    lines[r] = pieces.join('');
  }
  return lines.join(separator);
}

/**
 * RFC 4180: CRLF line ends, a header row, a field quoted when it holds the delimiter, a quote or
 * a line break, quotes doubled inside. A text cell that a spreadsheet would run as a formula is
 * prefixed with a single quote, which spreadsheets show as text.
 */
export class CsvEncoder implements RowEncoder {
  readonly contentType = 'text/csv; charset=utf-8';
  readonly extension = 'csv';
  private readonly needsQuotes: RegExp;
  /** Per column: written as the cell is (numbers are the database's own; plain cells have nothing to escape). */
  private readonly asIs: boolean[];
  /** Cell i goes at 2i + 1, after the delimiter (none before the first), the line end last. */
  private readonly pieces: string[];

  constructor(
    private readonly columns: readonly ExportColumn[],
    private readonly delimiter: string,
  ) {
    this.needsQuotes = new RegExp(`["\\r\\n${delimiter === '\t' ? '\\t' : delimiter === '|' ? '\\|' : delimiter}]`);
    this.asIs = columns.map((column) => column.kind === 'number' || column.kind === 'plain');
    this.pieces = columns.flatMap((_, c) => [c === 0 ? '' : delimiter, '']);
    this.pieces.push('\r\n');
  }

  head(): string {
    return this.columns.map((column) => this.text(column.name)).join(this.delimiter) + '\r\n';
  }

  page(rows: readonly (readonly Cell[])[]): string {
    return joinRows(this.pieces, rows, this.cell, '');
  }

  tail(): string {
    return '';
  }

  private readonly cell = (cell: Cell, column: number): string => {
    if (cell === null) return '';
    if (typeof cell === 'string') return this.asIs[column] ? cell : this.text(cell);
    return typeof cell === 'object' ? this.text(JSON.stringify(cell)) : String(cell);
  };

  /** One text field, escaped and quoted as needed. */
  text(value: string): string {
    if (formulaStart(value.charCodeAt(0)) && !PLAIN_NUMBER.test(value)) value = `'${value}`;
    return this.needsQuotes.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  }
}

/** A string with nothing JSON escapes (a quote, a backslash, a control character, a surrogate half). */
// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const JSON_PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** The pieces of a JSON object row: `{"name":`, `,"next":`, …, then `}` (cells go between). */
function objectPieces(columns: readonly ExportColumn[]): string[] {
  const pieces = columns.flatMap((column, c) => [`${c === 0 ? '{' : ','}${JSON.stringify(column.name)}:`, '']);
  pieces.push(columns.length === 0 ? '{}' : '}');
  return pieces;
}

/** A cell as a JSON value, by its column's kind. */
function jsonCell(kinds: readonly CellKind[]): (cell: Cell, column: number) => string {
  return (cell, column) => {
    if (cell === null) return 'null';
    if (typeof cell === 'string') {
      const kind = kinds[column];
      // JSON text and numbers as the database's text are JSON values already.
      if (kind === 'json' || kind === 'number') return cell;
      // Most text needs no escaping: quoting it is cheaper than JSON.stringify.
      return kind === 'plain' || JSON_PLAIN.test(cell) ? `"${cell}"` : JSON.stringify(cell);
    }
    return typeof cell === 'object' ? JSON.stringify(cell) : String(cell);
  };
}

/** One JSON object per line. */
export class JsonLinesEncoder implements RowEncoder {
  readonly contentType = 'application/x-ndjson';
  readonly extension = 'jsonl';
  private readonly pieces: string[];
  private readonly cell: (cell: Cell, column: number) => string;

  constructor(columns: readonly ExportColumn[]) {
    this.pieces = objectPieces(columns);
    this.pieces[this.pieces.length - 1] += '\n';
    this.cell = jsonCell(columns.map((column) => column.kind));
  }

  head(): string {
    return '';
  }

  page(rows: readonly (readonly Cell[])[]): string {
    return joinRows(this.pieces, rows, this.cell, '');
  }

  tail(): string {
    return '';
  }
}

/** One JSON array, written as it goes: `[`, objects separated by commas, `]`. */
export class JsonArrayEncoder implements RowEncoder {
  readonly contentType = 'application/json';
  readonly extension = 'json';
  private readonly pieces: string[];
  private readonly cell: (cell: Cell, column: number) => string;
  private first = true;

  constructor(columns: readonly ExportColumn[]) {
    this.pieces = objectPieces(columns);
    this.cell = jsonCell(columns.map((column) => column.kind));
  }

  head(): string {
    return '[';
  }

  page(rows: readonly (readonly Cell[])[]): string {
    if (rows.length === 0) return '';
    const separator = this.first ? '\n' : ',\n';
    this.first = false;
    return separator + joinRows(this.pieces, rows, this.cell, ',\n');
  }

  tail(): string {
    return this.first ? ']\n' : '\n]\n';
  }
}
