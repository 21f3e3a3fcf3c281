import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { FilesService } from '@conveyor/files';
import { HandlesTask, TaskEntity, TaskFailure, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { exportStream } from '../encoding/export-stream';
import { createEncoder } from '../encoding/row-encoder';
import {
  EXPORT_CREATE,
  EXPORT_ERRORS,
  NOT_CLEANED_OUTPUT_MESSAGE,
  sourceProblem,
  timeRangeProblem,
  type ExportCreatePayload,
  type ExportResult,
} from '../exports.contract';
import { findCleanedFile } from '../source/cleaned-file';
import type { ExportRowSource } from '../source/export-source';
import { FileRowsSource } from '../source/file-rows.source';
import { TaskRowsSource } from '../source/task-rows.source';

/**
 * Thin: picks the source, streams it through the encoder (and gzip) into storage, and returns
 * what `GET /v1/exports/:id` shows. FilesService.store writes the file's row only once every
 * byte is stored, and removes the object when the stream fails: a cancelled or failed export
 * leaves nothing behind.
 */
@HandlesTask(EXPORT_CREATE)
export class ExportCreateHandler implements TaskHandler<ExportCreatePayload, ExportResult> {
  constructor(
    private readonly files: FilesService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async handle(payload: ExportCreatePayload, context: TaskContext): Promise<ExportResult> {
    const source = await this.openSource(payload, context.tenantId);
    // An earlier attempt may have stored its file and died before its completion was recorded:
    // that file goes, so an export task owns one file whatever the number of attempts.
    await this.files.remove(await this.files.findForTasks([context.taskId]));

    const total = await source.count();
    const encoder = createEncoder(payload.format, await source.columns(), { delimiter: payload.delimiter });
    let written = 0;
    const content = exportStream({
      encoder,
      pages: source.pages(context.signal),
      compression: payload.compression,
      signal: context.signal,
      onRows: (rows) => {
        written = rows;
        context.progress(total ? Math.min(100, (rows / total) * 100) : 0, total === null ? `${rows} rows` : `${rows} of ${total} rows`);
      },
    });
    const extension = encoder.extension + (payload.compression === 'gzip' ? '.gz' : '');
    const contentType = payload.compression === 'gzip' ? 'application/gzip' : encoder.contentType;
    const file = await this.files.store(context.tenantId, content, {
      name: `${source.name}.${extension}`,
      contentType,
      kind: 'export',
      taskId: context.taskId,
    });
    context.progress(100, `${written} rows, ${file.size} bytes`);
    return {
      exportId: context.taskId,
      fileId: file.id,
      storageKey: file.storageKey,
      name: file.name,
      contentType,
      rows: written,
      bytes: file.size,
      sha256: file.sha256,
      format: payload.format,
      compression: payload.compression ?? null,
    };
  }

  /** The API refused these already; a pipeline step is checked here (`source: "tasks"` as a step is handed a fileId). */
  private async openSource(payload: ExportCreatePayload, tenantId: string): Promise<ExportRowSource> {
    const misplaced = sourceProblem(payload);
    if (misplaced) throw new TaskFailure(EXPORT_ERRORS.notForSource, `${misplaced.field} does not apply to source "${payload.source}"`, false);
    if (payload.source === 'tasks') {
      const problem = timeRangeProblem(payload.filters);
      if (problem) throw new TaskFailure(EXPORT_ERRORS.invalidTimeRange, problem, false);
      const tasks = new TaskRowsSource(this.dataSource, tenantId, payload.filters);
      return { name: 'tasks', columns: () => tasks.columns(), count: () => tasks.count(), pages: (signal) => tasks.pages(signal) };
    }
    const tasks = this.dataSource.getRepository(TaskEntity);
    const cleaned = await findCleanedFile(this.files, (tenant, id) => tasks.findOneBy({ tenantId: tenant, id }), tenantId, payload.fileId!);
    if (cleaned === 'not-found') throw new TaskFailure(EXPORT_ERRORS.fileNotFound, `no file ${payload.fileId} in this tenant`, false);
    if (cleaned === 'not-cleaned-output') throw new TaskFailure(EXPORT_ERRORS.notCleanedOutput, NOT_CLEANED_OUTPUT_MESSAGE, false);
    return new FileRowsSource((file) => this.files.open(file), cleaned, payload.format !== 'csv');
  }
}
