import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, IsUUID, Matches, ValidateNested } from 'class-validator';
import { defineTaskType } from '@conveyor/tasks';
import { CleaningRulesDto } from './cleaning/cleaning-rules.dto';
import type { CleaningReport } from './cleaning/cleaning-report';

/**
 * The file queue. Its name is a stored API (renaming strands queued jobs), so it comes from
 * QUEUE_NAME only to let a deployment keep a name it already has; apps load .env before
 * importing this file (see their main.ts).
 */
export const FILE_QUEUE = process.env.QUEUE_NAME?.trim() || 'file-processing';

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

/** Cleans an uploaded CSV/TSV/JSONL file by declared rules; stores the result, rejects and a report. */
export const FILE_CLEAN = defineTaskType<FileCleanPayload, FileCleanResult>({
  type: 'file.clean',
  queue: FILE_QUEUE,
  description: 'Cleans an uploaded CSV, TSV or JSON Lines file with declared rules; outputs the cleaned file, the rejected rows and a JSON report.',
  payload: FileCleanPayload,
  // Files can be large: a generous time limit, few retries (the failures that matter are permanent).
  defaults: { maxAttempts: 2, timeoutMs: 6 * 3600 * 1000, backoff: { type: 'exponential', delayMs: 5000, jitter: 0.5 } },
});

export const FILE_CLEANING_TASK_TYPES = [FILE_CLEAN] as const;
