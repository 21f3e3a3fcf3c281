import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsUUID,
  Validate,
  ValidateIf,
  ValidateNested,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { defineTaskType, IsInstant, parseInstant, TaskFilters } from '@conveyor/tasks';
import { exportCompletedData } from './export-events';

/** The exports queue. Its name is a stored API: renaming it strands queued jobs. */
export const EXPORT_QUEUE = 'exports';

export const EXPORT_SOURCES = ['tasks', 'file'] as const;
export const EXPORT_FORMATS = ['csv', 'jsonl', 'json'] as const;
export const EXPORT_COMPRESSIONS = ['gzip'] as const;

export type ExportSource = (typeof EXPORT_SOURCES)[number];
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type ExportCompression = (typeof EXPORT_COMPRESSIONS)[number];

/** The ledger fields a tasks export may select, in their default order (the task view's names). */
export const TASK_EXPORT_FIELDS = [
  'id',
  'type',
  'queue',
  'status',
  'priority',
  'payload',
  'result',
  'error',
  'progress',
  'attempts',
  'maxAttempts',
  'timeoutMs',
  'idempotencyKey',
  'tags',
  'createdAt',
  'updatedAt',
  'scheduledFor',
  'expiresAt',
  'startedAt',
  'finishedAt',
  'workerId',
  'parentId',
  'rootId',
  'scheduleId',
] as const;
export type TaskExportField = (typeof TASK_EXPORT_FIELDS)[number];

/** The filters of `GET /v1/tasks`, a creation-time range and the fields to write. */
export class TaskExportFiltersDto extends TaskFilters {
  /** Tasks created at or after this instant (RFC 3339). */
  @IsOptional()
  @IsInstant()
  createdFrom?: string;

  /** Tasks created before this instant (RFC 3339); must be after createdFrom. */
  @IsOptional()
  @IsInstant()
  createdTo?: string;

  /** Columns (csv) or keys (jsonl, json), in this order; default: every field. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(TASK_EXPORT_FIELDS.length)
  @ArrayUnique()
  @IsIn(TASK_EXPORT_FIELDS, { each: true })
  fields?: TaskExportField[];
}

/** Where an export failure or refusal comes from; the same codes in HTTP errors and task errors. */
export const EXPORT_ERRORS = {
  invalidTimeRange: 'INVALID_TIME_RANGE',
  fileNotFound: 'FILE_NOT_FOUND',
  notForSource: 'NOT_FOR_SOURCE',
  /** source `file`: the file is not the cleaned output of a completed file.clean (an upload, rejects, a report, an export). */
  notCleanedOutput: 'NOT_CLEANED_OUTPUT',
} as const;

/**
 * The fields of one source only, checked with the payload wherever a task is made (the API, a
 * follow-up, a pipeline step whose fileId the pipeline fills in later).
 */
@ValidatorConstraint({ name: 'sourceFields' })
class SourceFields implements ValidatorConstraintInterface {
  validate(_source: unknown, args: ValidationArguments): boolean {
    return sourceProblem(args.object as ExportCreatePayload) === undefined;
  }

  defaultMessage(args: ValidationArguments): string {
    return sourceProblem(args.object as ExportCreatePayload)?.message ?? 'fields of another source';
  }
}

// The published schema says what `@ValidateIf` on fileId checks: source `file` needs a fileId.
@JSONSchema({ anyOf: [{ properties: { source: { not: { enum: ['file'] } } } }, { required: ['fileId'] }] })
export class ExportCreatePayload {
  /** `tasks`: the tenant's ledger; `file`: a cleaning output (CSV, TSV or JSON Lines) of the tenant, re-encoded. */
  @IsIn(EXPORT_SOURCES)
  @Validate(SourceFields, { context: { code: EXPORT_ERRORS.notForSource } })
  source: ExportSource;

  /** source `file`: the cleaned output (`outputFileId` of a completed file.clean) to re-encode; as a pipeline step, the file the step before handed on. */
  @ValidateIf((payload: ExportCreatePayload) => payload.source === 'file' || payload.fileId !== undefined)
  @IsUUID()
  fileId?: string;

  /** source `tasks` only. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TaskExportFiltersDto)
  filters?: TaskExportFiltersDto;

  @IsIn(EXPORT_FORMATS)
  format: ExportFormat;

  @IsOptional()
  @IsIn(EXPORT_COMPRESSIONS)
  compression?: ExportCompression;

  /** csv only; default `,`. */
  @IsOptional()
  @IsIn([',', ';', '\t', '|'])
  delimiter?: string;
}

/** What a finished export leaves in its task's result; `GET /v1/exports/:id` reads it. */
export interface ExportResult {
  /** The export's id (its task's), so a pipeline step after it can name it. */
  exportId: string;
  fileId: string;
  storageKey: string;
  name: string;
  contentType: string;
  rows: number;
  bytes: number;
  sha256: string;
  format: ExportFormat;
  compression: ExportCompression | null;
}

/** Writes the tenant's tasks or a stored file as CSV, JSON Lines or JSON (optionally gzipped) to storage. */
export const EXPORT_CREATE = defineTaskType<ExportCreatePayload, ExportResult>({
  type: 'export.create',
  queue: EXPORT_QUEUE,
  description:
    'Streams the tenant’s tasks (list filters, a creation-time range, chosen fields) or a cleaned CSV/TSV/JSONL file to storage as CSV, JSON Lines or JSON, optionally gzipped.',
  payload: ExportCreatePayload,
  // An export re-runs from the start after a crash (its partial object is discarded), so a few attempts and a long limit.
  defaults: { maxAttempts: 3, timeoutMs: 6 * 3600 * 1000, backoff: { type: 'exponential', delayMs: 5000, jitter: 0.5 } },
  completedEvent: { type: 'export.completed', data: exportCompletedData },
  // As a `then` step (`"source":"file"`) it exports the chain's latest file; the export's file becomes the next step's `fileId`.
  pipeline: {
    takes: { fileId: 'fileId' },
    handsOn: {
      exportId: (result) => result.exportId,
      fileId: (result) => result.fileId,
      rows: (result) => result.rows,
      sha256: (result) => result.sha256,
      bytes: (result) => result.bytes,
    },
  },
});

export const EXPORT_TASK_TYPES = [EXPORT_CREATE] as const;

/** createdTo must be after createdFrom; undefined when the range is fine. */
export function timeRangeProblem(filters: TaskExportFiltersDto | undefined): string | undefined {
  if (!filters?.createdFrom || !filters.createdTo) return undefined;
  return parseInstant(filters.createdFrom)! < parseInstant(filters.createdTo)! ? undefined : 'createdTo must be after createdFrom';
}

/** A field the chosen source does not take (filters the file source would ignore would mislead); undefined when fine. */
export function sourceProblem(payload: ExportCreatePayload): { field: string; message: string } | undefined {
  if (payload.source === 'tasks' && payload.fileId !== undefined) return { field: 'fileId', message: 'only source "file" takes a fileId' };
  if (payload.source === 'file' && payload.filters !== undefined) return { field: 'filters', message: 'only source "tasks" takes filters' };
  return undefined;
}

/** The HTTP answer and task failure for a source file that is not a cleaned output. */
export const NOT_CLEANED_OUTPUT_MESSAGE =
  'source "file" exports a cleaned output (outputFileId of a completed file.clean task); this file is an upload, rejects, a report or an export';
