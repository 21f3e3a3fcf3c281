/**
 * Why a cleaning run cannot go on. These are permanent for the given input and rules (a retry
 * would fail the same way), so a processor should end the task without retrying. Problems in
 * the data itself (ragged rows, bad values) are never errors: they go to rejects and the report.
 */
export type CleaningErrorCode =
  /** The rules do not validate; `details` lists each problem with its path. */
  | 'INVALID_RULES'
  /** The options (format, delimiter, input kind) do not fit together. */
  | 'INVALID_OPTIONS'
  /** A column rule or dedupe column names a column the file does not have. */
  | 'UNKNOWN_COLUMN'
  /** The dedupe index would outgrow its memory budget (too many distinct keys). */
  | 'DEDUPE_INDEX_LIMIT'
  /** keep:"last" read the input twice and the second read differed from the first. */
  | 'INPUT_CHANGED'
  /** The input's byte order mark names an encoding the engine does not read (UTF-32). */
  | 'UNSUPPORTED_ENCODING';

export class CleaningError extends Error {
  constructor(
    readonly code: CleaningErrorCode,
    message: string,
    readonly details: ReadonlyArray<{ field: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'CleaningError';
  }
}
