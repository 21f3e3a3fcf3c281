import type { TaskEntity } from '@conveyor/tasks';
import type { ExportCreatePayload, ExportResult } from '../exports.contract';

export class ExportErrorView {
  code: string;
  message: string;
}

export class ExportProgressView {
  percent: number;
  message?: string;
}

/** `GET /v1/exports/:id`: an export is an `export.create` task; this is its record in export terms. */
export class ExportView {
  /** The export's task id (also readable at /v1/tasks/:id, cancellable at /v1/exports/:id/cancel). */
  id: string;
  /** The task's status, or `expired` once the file is past EXPORT_RETENTION_SECONDS. */
  status: string;
  source: string;
  format: string;
  compression: string | null;
  /** Rows written, and the percentage of the count taken at the start. */
  progress: ExportProgressView | null;
  rows: number | null;
  bytes: number | null;
  sha256: string | null;
  fileName: string | null;
  /** Signed link (local storage, served by the API) or presigned URL (S3); null until completed and after expiry. */
  downloadUrl: string | null;
  /** When downloadUrl stops working; ask again for a fresh one. */
  downloadUrlExpiresAt: string | null;
  /** When the file is deleted (EXPORT_RETENTION_SECONDS after it was written). */
  expiresAt: string | null;
  error: ExportErrorView | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface DownloadLink {
  url: string;
  expiresAt: Date;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** The view of an export task; `link` only for a completed, unexpired one. */
export function toExportView(task: TaskEntity, expiresAt: Date | null, link: DownloadLink | null, now = Date.now()): ExportView {
  const payload = task.payload as ExportCreatePayload;
  const result = task.status === 'completed' ? (task.result as ExportResult | null) : null;
  const expired = expiresAt !== null && expiresAt.getTime() <= now;
  return {
    id: task.id,
    status: expired ? 'expired' : task.status,
    source: payload.source,
    format: payload.format,
    compression: payload.compression ?? null,
    progress: task.progress ?? null,
    rows: result?.rows ?? null,
    bytes: result?.bytes ?? null,
    sha256: result?.sha256 ?? null,
    fileName: result?.name ?? null,
    downloadUrl: expired ? null : (link?.url ?? null),
    downloadUrlExpiresAt: expired ? null : iso(link?.expiresAt ?? null),
    expiresAt: iso(expiresAt),
    error: task.error ?? null,
    createdAt: task.createdAt.toISOString(),
    startedAt: iso(task.startedAt),
    finishedAt: iso(task.finishedAt),
  };
}

/** `POST /v1/exports/:id/cancel`: the export, and whether it was cancelled now or told to stop. */
export class ExportCancelledView extends ExportView {
  /** `cancelled` (it was waiting) or `cancelling` (it was running). */
  cancellation: string;
}
