import { PassThrough, type Readable } from 'node:stream';
import { FilesService, type FileEntity } from '@conveyor/files';
import { failpoint, HandlesTask, TaskFailure, TaskLedgerService, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { CleaningError } from '../cleaning/cleaning-error';
import { FILE_CLEAN, type FileCleanPayload, type FileCleanResult } from '../file-cleaning.contract';
import { cleanInThread } from './clean-in-thread';

const CONTENT_TYPES = { csv: 'text/csv; charset=utf-8', tsv: 'text/tab-separated-values; charset=utf-8', jsonl: 'application/x-ndjson' } as const;

function baseName(name: string): string {
  return name.replace(/\.(csv|tsv|tab|txt|jsonl|ndjson|json)$/i, '') || 'file';
}

/**
 * Thin: opens the upload, runs the streaming engine into two storage uploads (cleaned file and
 * rejects) at once, stores the report, returns the ids. On failure or abort both uploads are
 * destroyed, so no partial output is ever registered. The engine runs on its own thread
 * (cleanInThread): it is the one CPU-bound handler, and the task's signal must be able to stop it.
 */
@HandlesTask(FILE_CLEAN)
export class FileCleanHandler implements TaskHandler<FileCleanPayload, FileCleanResult> {
  constructor(
    private readonly files: FilesService,
    private readonly ledger: TaskLedgerService,
  ) {}

  async handle(payload: FileCleanPayload, context: TaskContext): Promise<FileCleanResult> {
    const source = await this.files.findOne(context.tenantId, payload.fileId);
    if (!source) throw new TaskFailure('FILE_NOT_FOUND', `no file ${payload.fileId} in this tenant`, false);
    await this.discardEarlierRuns(context, source.id);

    // keep:"last" reads the input twice, so the engine gets a way to open it, not one stream.
    const open = (): Readable => {
      const stream = new PassThrough({ highWaterMark: 256 * 1024 });
      this.files.open(source).then(
        (content) => content.on('error', (error) => stream.destroy(error)).pipe(stream),
        (error: Error) => stream.destroy(error),
      );
      return stream;
    };

    const output = new PassThrough({ highWaterMark: 1024 * 1024 });
    const rejects = new PassThrough({ highWaterMark: 256 * 1024 });
    const name = baseName(source.name);
    const storedOutput = this.files.store(context.tenantId, output, {
      name: `${name}.clean`,
      contentType: 'text/plain',
      kind: 'output',
      taskId: context.taskId,
    });
    const storedRejects = this.files.store(context.tenantId, rejects, {
      name: `${name}.rejects`,
      contentType: 'text/plain',
      kind: 'rejects',
      taskId: context.taskId,
    });
    // Each store settles on its own; observed here so a failure never goes unhandled.
    const settled = Promise.allSettled([storedOutput, storedRejects]);

    let report;
    try {
      report = await cleanInThread({
        open,
        totalBytes: source.size,
        format: payload.format,
        delimiter: payload.delimiter,
        encoding: payload.encoding,
        rules: payload.rules,
        output,
        rejects,
        outputFormat: payload.output?.format ? { format: payload.output.format } : undefined,
        signal: context.signal,
        onProgress: (progress) =>
          context.progress(
            (progress.fraction ?? 0) * 100,
            `${(progress.bytesRead / 1e6).toFixed(1)} of ${(source.size / 1e6).toFixed(1)} MB (pass ${progress.pass} of ${progress.passes})`,
          ),
      });
    } catch (error) {
      output.destroy(error as Error);
      rejects.destroy(error as Error);
      await this.discard(await settled);
      if (error instanceof CleaningError) throw new TaskFailure(error.code, error.message, false);
      throw error;
    }

    const [outputFile, rejectsFile] = await Promise.all([storedOutput, storedRejects]);
    const outputFormat = report.output.format;
    await this.files.rename(outputFile, `${name}.clean.${outputFormat}`, CONTENT_TYPES[outputFormat]);
    await this.files.rename(rejectsFile, `${name}.rejects.${report.input.format}`, CONTENT_TYPES[report.input.format]);
    const reportFile = await this.files.storeBuffer(context.tenantId, Buffer.from(JSON.stringify(report, null, 2)), {
      name: `${name}.report.json`,
      contentType: 'application/json',
      kind: 'report',
      taskId: context.taskId,
    });
    failpoint('file-clean-after-store');
    context.progress(100, `${report.rowsOut} rows out, ${report.rowsRejected} rejected, ${report.duplicatesRemoved} duplicates removed`);
    return { outputFileId: outputFile.id, rejectsFileId: rejectsFile.id, reportFileId: reportFile.id, report };
  }

  /**
   * An earlier attempt may have stored its files and died before its completion was recorded:
   * they belong to no result, so they go before this attempt stores its own. The files of a
   * recorded result stay (a completion committed but never acknowledged runs again, and what
   * came after it, a pipeline step say, was handed those files).
   */
  private async discardEarlierRuns(context: TaskContext, sourceId: string): Promise<void> {
    const earlier = (await this.files.findForTasks([context.taskId])).filter((file) => file.kind !== 'upload' && file.id !== sourceId);
    if (earlier.length === 0) return;
    const recorded = (await this.ledger.findOne(context.tenantId, context.taskId))?.result as Partial<FileCleanResult> | null | undefined;
    const kept = new Set([recorded?.outputFileId, recorded?.rejectsFileId, recorded?.reportFileId]);
    await this.files.remove(earlier.filter((file) => !kept.has(file.id)));
  }

  private async discard(results: PromiseSettledResult<FileEntity>[]): Promise<void> {
    const stored = results.filter((r): r is PromiseFulfilledResult<FileEntity> => r.status === 'fulfilled').map((r) => r.value);
    await this.files.remove(stored);
  }
}
