import type { ColumnType, DedupeKeep } from './cleaning-rules.dto';
import type { FileFormat } from './format-sniffer';

/** Kinds of problem found while reading the file (as opposed to invalid values). */
export type ParseProblemKind =
  'empty-file' | 'ragged-row' | 'bad-quoting' | 'stray-quote' | 'invalid-utf8' | 'invalid-json' | 'not-an-object' | 'too-long' | 'header';

export interface ParseProblem {
  /** 1-based line where the record starts (0 for the file as a whole). */
  line: number;
  kind: ParseProblemKind;
  message: string;
}

export interface ColumnReport {
  type: ColumnType;
  /** Values that failed their type, whatever `onInvalid` did with them. */
  invalid: number;
  /** Invalid values emptied (`onInvalid: "null"`). */
  nulled: number;
  /** Invalid values left as written (`onInvalid: "keep"`). */
  kept: number;
  /** Rows rejected because of this column (invalid with `reject`, or required and missing). */
  rejected: number;
  /** Required values missing. */
  missing: number;
  /** Valid values whose text changed by normalisation (e.g. a date reformatted). */
  normalized: number;
}

export interface CleaningReport {
  input: {
    format: FileFormat;
    /** For csv and tsv. */
    delimiter?: string;
    encoding: 'utf-8' | 'latin1' | 'utf-16le' | 'utf-16be';
    bom: boolean;
    lineEnding: '\n' | '\r\n';
    /** Which of format, delimiter, encoding were guessed rather than given. */
    detected: { format: boolean; delimiter: boolean; encoding: boolean };
    /** Header names as written (csv/tsv), or JSON keys in order of first appearance. */
    columns: string[];
  };
  output: {
    format: FileFormat;
    delimiter?: string;
    bom: boolean;
    /** Final column names, in output order. */
    columns: string[];
    /** Source name → final name (null: dropped). */
    mapping: Array<{ from: string; to: string | null }>;
  };
  /** Data rows read (not the header, not blank lines): rowsOut + rowsRejected + duplicatesRemoved + emptyRowsDropped. */
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  duplicatesRemoved: number;
  emptyRowsDropped: number;
  rules: {
    cellsTrimmed: number;
    cellsCollapsed: number;
    /** Cells that became null: empty (`emptyAsNull`) or matching `nullValues`. */
    cellsNulled: number;
    nullValuesMatched: number;
    /** Cells whose letter case a `case` rule changed. */
    cellsCased: number;
    /** Valid typed values rewritten into their normal form. */
    valuesNormalized: number;
  };
  columns: Record<string, ColumnReport>;
  /** Rejected rows by cause; a row with several causes counts under each. */
  rejects: {
    ragged: number;
    badQuoting: number;
    invalidUtf8: number;
    invalidJson: number;
    notAnObject: number;
    tooLong: number;
    invalidValue: number;
    missingRequired: number;
  };
  parse: {
    counts: Record<ParseProblemKind | 'blankLines' | 'invalidUtf8Bytes', number>;
    /** The first problems in file order (at most `limits.maxProblems`). */
    problems: ParseProblem[];
    problemsTruncated: boolean;
  };
  dedupe?: {
    keep: DedupeKeep;
    columns: string[];
    ignoreCase: boolean;
    distinctKeys: number;
    indexBytes: number;
    /** Reads of the input: 2 for keep:"last". */
    passes: number;
  };
  warnings: string[];
  bytesIn: number;
  bytesOut: number;
  bytesRejected: number;
  timings: {
    totalMs: number;
    /** keep:"last" only: the first, index-building read. */
    indexPassMs?: number;
    cleanPassMs: number;
    /** Time spent waiting for input chunks and for output streams to drain. */
    inputWaitMs: number;
    outputWaitMs: number;
    /** Input megabytes (10^6 bytes) per second over totalMs, counting each read once. */
    megabytesPerSecond: number;
  };
}

export function emptyReport(): CleaningReport {
  return {
    input: {
      format: 'csv',
      encoding: 'utf-8',
      bom: false,
      lineEnding: '\n',
      detected: { format: false, delimiter: false, encoding: false },
      columns: [],
    },
    output: { format: 'csv', bom: false, columns: [], mapping: [] },
    rowsIn: 0,
    rowsOut: 0,
    rowsRejected: 0,
    duplicatesRemoved: 0,
    emptyRowsDropped: 0,
    rules: { cellsTrimmed: 0, cellsCollapsed: 0, cellsNulled: 0, nullValuesMatched: 0, cellsCased: 0, valuesNormalized: 0 },
    columns: {},
    rejects: { ragged: 0, badQuoting: 0, invalidUtf8: 0, invalidJson: 0, notAnObject: 0, tooLong: 0, invalidValue: 0, missingRequired: 0 },
    parse: {
      counts: {
        'empty-file': 0,
        'ragged-row': 0,
        'bad-quoting': 0,
        'stray-quote': 0,
        'invalid-utf8': 0,
        'invalid-json': 0,
        'not-an-object': 0,
        'too-long': 0,
        header: 0,
        blankLines: 0,
        invalidUtf8Bytes: 0,
      },
      problems: [],
      problemsTruncated: false,
    },
    warnings: [],
    bytesIn: 0,
    bytesOut: 0,
    bytesRejected: 0,
    timings: { totalMs: 0, cleanPassMs: 0, inputWaitMs: 0, outputWaitMs: 0, megabytesPerSecond: 0 },
  };
}
