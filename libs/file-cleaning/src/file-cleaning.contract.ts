import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, IsUUID, Matches, ValidateNested } from 'class-validator';
import { defineTaskType } from '@conveyor/tasks';
import { CleaningRulesDto } from './cleaning/cleaning-rules.dto';
import type { CleaningReport } from './cleaning/cleaning-report';
import { cleaningSummary, fileCleanedData } from './file-cleaning-events';

/**
 * The file queue. Its name is a stored API (renaming strands queued jobs); a deployment that
 * already has another name keeps it with QUEUE_NAME, which the task registry applies.
 */
export const FILE_QUEUE = 'file-processing';

export const FILE_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export const FILE_ENCODINGS = ['utf-8', 'utf-8-bom', 'latin1'] as const;

export class CleanOutputOptionsDto {
  /** Format of the cleaned file; default: the input's. */
  @IsOptional()
  @IsIn(FILE_FORMATS)
  format?: (typeof FILE_FORMATS)[number];
}

export class FileCleanPayload {
  /** An uploaded file (`POST /v1/files`) of the caller's tenant. */
  @IsUUID()
  fileId: string;

  /** Sniffed from the first bytes when absent. */
  @IsOptional()
  @IsIn(FILE_FORMATS)
  format?: (typeof FILE_FORMATS)[number];

  /** csv only; sniffed among , TAB ; | when absent. */
  @IsOptional()
  @IsString()
  @Matches(/^[^\r\n"]$/, { message: 'delimiter must be one character (not a quote or line break)' })
  delimiter?: string;

  /**
   * Detected when absent (a BOM or valid UTF-8 means utf-8, otherwise latin1). A UTF-16 BOM means
   * UTF-16 whatever is declared; a UTF-32 one fails the task with UNSUPPORTED_ENCODING.
   */
  @IsOptional()
  @IsIn(FILE_ENCODINGS)
  encoding?: (typeof FILE_ENCODINGS)[number];

  // IsObject: ValidateNested alone lets an array through (it validates the items, of which []
  // has none), and the worker's own check (validateCleaningRules) would then refuse it.
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CleaningRulesDto)
  rules?: CleaningRulesDto;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CleanOutputOptionsDto)
  output?: CleanOutputOptionsDto;
}

export interface FileCleanResult {
  outputFileId: string;
  rejectsFileId: string;
  reportFileId: string;
  report: CleaningReport;
}

/** The counts of a cleaning report that a pipeline hands on (the full report is a file of its own). */
export interface CleaningSummary {
  rowsIn: number;
  rowsOut: number;
  rowsRejected: number;
  duplicatesRemoved: number;
  emptyRowsDropped: number;
}

/** Cleans an uploaded CSV/TSV/JSONL file by declared rules; stores the result, rejects and a report. */
export const FILE_CLEAN = defineTaskType<FileCleanPayload, FileCleanResult>({
  type: 'file.clean',
  queue: FILE_QUEUE,
  description: 'Cleans an uploaded CSV, TSV or JSON Lines file with declared rules; outputs the cleaned file, the rejected rows and a JSON report.',
  payload: FileCleanPayload,
  // Files can be large: a generous time limit, few retries (the failures that matter are permanent).
  defaults: { maxAttempts: 2, timeoutMs: 6 * 3600 * 1000, backoff: { type: 'exponential', delayMs: 5000, jitter: 0.5 } },
  // `then` steps of a cleaning job start from the cleaned file.
  pipeline: {
    handsOn: {
      fileId: (result) => result.outputFileId,
      rejectsFileId: (result) => result.rejectsFileId,
      reportFileId: (result) => result.reportFileId,
      summary: ({ report }) => cleaningSummary(report),
    },
  },
  completedEvent: { type: 'file.cleaned', data: fileCleanedData },
});

export class FileChecksumPayload {
  /** A stored file of the caller's tenant; as a pipeline step, the latest file of the chain. */
  @IsUUID()
  fileId: string;
}

export interface FileChecksumResult {
  fileId: string;
  name: string;
  bytes: number;
  sha256: string;
  /** Line breaks in the file (for a CSV with a header: data rows + 1). */
  lines: number;
}

/**
 * Reads a stored file back end to end and checks it against the size and SHA-256 recorded when
 * it was stored: proof that what clients will download is what was written. As a pipeline step
 * it hands on `sha256` and `bytes`, for an announcement or a receiver to check the download with.
 */
export const FILE_CHECKSUM = defineTaskType<FileChecksumPayload, FileChecksumResult>({
  type: 'file.checksum',
  queue: FILE_QUEUE,
  description:
    'Reads a stored file back and checks its size and SHA-256 against those recorded when it was stored (CHECKSUM_MISMATCH otherwise); returns them with the line count.',
  payload: FileChecksumPayload,
  defaults: { maxAttempts: 3, timeoutMs: 3600 * 1000 },
  pipeline: {
    takes: { fileId: 'fileId' },
    handsOn: { sha256: (result) => result.sha256, bytes: (result) => result.bytes },
  },
});

export const FILE_CLEANING_TASK_TYPES = [FILE_CLEAN, FILE_CHECKSUM] as const;
