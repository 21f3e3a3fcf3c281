// The pure cleaning engine: plain TypeScript over Node streams, no NestJS.
export { cleanStream, type CleanStreamOptions, type CleaningLimits, type CleaningProgress } from './clean-stream';
export { CleaningError, type CleaningErrorCode } from './cleaning-error';
export type { CleaningReport, ColumnReport, ParseProblem, ParseProblemKind } from './cleaning-report';
export {
  CASE_STYLES,
  CleaningRulesDto,
  COLUMN_TYPES,
  ColumnRuleDto,
  DEDUPE_KEEP,
  DedupeRulesDto,
  HEADER_STYLES,
  HeaderRulesDto,
  ON_INVALID_ACTIONS,
  validateCleaningRules,
  type CaseStyle,
  type CleaningRules,
  type ColumnRule,
  type ColumnType,
  type DedupeKeep,
  type HeaderStyle,
  type OnInvalidAction,
  type RuleProblem,
} from './cleaning-rules.dto';
export { DEFAULT_DATE_FORMATS, DEFAULT_DATETIME_FORMATS } from './date-formats';
export type { FileFormat } from './format-sniffer';
export type { InputEncoding } from './input-decoder';
// The readers, for domains that read a cleaned file back (exports re-encode one).
export { CsvParser, type CsvRecordSink } from './csv-parser';
export { JsonlReader } from './jsonl-reader';
