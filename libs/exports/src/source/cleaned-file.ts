import { FILE_CLEAN, type FileCleanResult } from '@conveyor/file-cleaning';
import type { FileEntity, FilesService } from '@conveyor/files';
import type { TaskEntity } from '@conveyor/tasks';

/** Column types whose cleaned values are JSON literals (numbers, booleans) rather than text. */
export type CleanedValueType = 'number' | 'boolean' | 'text';

/** A cleaning output as an export reads it: the file, how it is written, and what its rows hold. */
export interface CleanedFile {
  file: FileEntity;
  format: 'csv' | 'tsv' | 'jsonl';
  /** csv and tsv. */
  delimiter: string;
  /** Column names in the file's order (the CSV header; JSON keys in order of first appearance). */
  columns: string[];
  /** Per column, how a CSV cell is read back: typed columns become JSON numbers and booleans. */
  types: CleanedValueType[];
  /** Rows in the file (the cleaning's rowsOut), for progress. */
  rows: number;
}

export type CleanedFileLookup = CleanedFile | 'not-found' | 'not-cleaned-output';

const typeOf = (type: string | undefined): CleanedValueType => (type === 'integer' || type === 'number' ? 'number' : type === 'boolean' ? 'boolean' : 'text');

/**
 * The tenant's file `fileId`, if it is the cleaned output of a completed `file.clean` task: its
 * format, delimiter, columns and types come from that task's report, so an export reads the file
 * exactly as the cleaning wrote it (no sniffing). Another tenant's file is `not-found`; an upload,
 * rejects, a report or an export is `not-cleaned-output`.
 */
export async function findCleanedFile(
  files: Pick<FilesService, 'findOne'>,
  findTask: (tenantId: string, taskId: string) => Promise<TaskEntity | null>,
  tenantId: string,
  fileId: string,
): Promise<CleanedFileLookup> {
  const file = await files.findOne(tenantId, fileId);
  if (!file) return 'not-found';
  if (file.kind !== 'output' || !file.taskId) return 'not-cleaned-output';
  const task = await findTask(tenantId, file.taskId);
  const result = task?.type === FILE_CLEAN.type && task.status === 'completed' ? (task.result as FileCleanResult | null) : null;
  // A cleaning that ran twice (a crash) stored two outputs; the one its completion names is the cleaned file.
  if (!result || result.outputFileId !== file.id) return 'not-cleaned-output';
  const output = result.report.output;
  return {
    file,
    format: output.format,
    delimiter: output.delimiter ?? (output.format === 'tsv' ? '\t' : ','),
    columns: output.columns,
    types: output.columns.map((name) => typeOf(result.report.columns[name]?.type)),
    rows: result.report.rowsOut,
  };
}
