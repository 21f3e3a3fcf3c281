import type { EntityManager } from 'typeorm';
import { FileEntity, toFileView } from '@conveyor/files';
import type { TaskEntity } from '@conveyor/tasks';
import type { CleaningReport } from './cleaning/cleaning-report';
import type { CleaningSummary, FileCleanPayload, FileCleanResult } from './file-cleaning.contract';

/** The counts of a report that a pipeline hands on and `file.cleaned` carries. */
export function cleaningSummary(report: CleaningReport): CleaningSummary {
  return {
    rowsIn: report.rowsIn,
    rowsOut: report.rowsOut,
    rowsRejected: report.rowsRejected,
    duplicatesRemoved: report.duplicatesRemoved,
    emptyRowsDropped: report.emptyRowsDropped,
  };
}

/**
 * `file.cleaned`, sent when a `file.clean` task completes: the cleaned file as
 * `GET /v1/files/:id` shows it (read in the completion's transaction: the handler registered it
 * before completing), the file it came from, the rejects and report files, the report's counts,
 * and the task. After a crash the cleaning may run twice; the event kept is the first run's.
 */
export async function fileCleanedData(task: TaskEntity, manager: EntityManager) {
  const result = task.result as FileCleanResult;
  const file = await manager.getRepository(FileEntity).findOneBy({ id: result.outputFileId, tenantId: task.tenantId });
  return {
    file: file ? toFileView(file) : { id: result.outputFileId },
    sourceFileId: (task.payload as FileCleanPayload).fileId,
    rejectsFileId: result.rejectsFileId,
    reportFileId: result.reportFileId,
    summary: cleaningSummary(result.report),
    taskId: task.id,
  };
}
