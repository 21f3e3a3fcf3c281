import type { TaskEntity } from '@conveyor/tasks';
import type { ExportCreatePayload, ExportResult } from './exports.contract';

/**
 * `export.completed`, sent when an `export.create` task completes: the export as
 * `GET /v1/exports/:id` shows it, without a download link. A link is valid for minutes
 * (EXPORT_LINK_TTL_SECONDS) while a delivery may be retried for a day, so the receiver asks
 * `href` for a fresh one; `fileId` names the stored file for a receiver that reads it with a key.
 */
export function exportCompletedData(task: TaskEntity) {
  const payload = task.payload as ExportCreatePayload;
  const result = task.result as ExportResult;
  return {
    export: {
      id: task.id,
      status: task.status,
      source: payload.source,
      format: payload.format,
      compression: payload.compression ?? null,
      rows: result.rows,
      bytes: result.bytes,
      sha256: result.sha256,
      fileName: result.name,
      fileId: result.fileId,
      createdAt: task.createdAt.toISOString(),
      finishedAt: task.finishedAt?.toISOString() ?? null,
    },
    href: `/v1/exports/${task.id}`,
  };
}
