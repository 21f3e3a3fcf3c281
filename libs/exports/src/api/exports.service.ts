import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { FILE_STORAGE, FilesService, type FileEntity, type FileStorage } from '@conveyor/files';
import { TaskLedgerService, type TaskEntity } from '@conveyor/tasks';
import { TaskControlService, Tasks } from '@conveyor/tasks/api';
import { DownloadLinks, type SignedLink } from '../download-link';
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
import { toExportView, type DownloadLink, type ExportView } from './export-view.dto';

const notFound = () => DomainError.notFound('EXPORT_NOT_FOUND', 'No such export');

/** Creating exports (checked, then queued as `export.create` tasks), reading them, and their download links. */
@Injectable()
export class ExportsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ExportsService.name);
  private readonly links: DownloadLinks;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tasks: Tasks,
    private readonly control: TaskControlService,
    private readonly ledger: TaskLedgerService,
    private readonly files: FilesService,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
  ) {
    this.links = new DownloadLinks(config.exports.linkSecret);
  }

  onApplicationBootstrap(): void {
    if (this.config.exports.linkSecretGenerated && this.config.env === 'production') {
      this.logger.warn('EXPORT_LINK_SECRET is not set: download links verify only on the API process that issued them');
    }
  }

  /** Refuses what cannot succeed before anything is stored; the worker checks the same rules again. */
  async create(tenantId: string, payload: ExportCreatePayload, idempotencyKey: string | undefined): Promise<{ task: TaskEntity; created: boolean }> {
    const misplaced = sourceProblem(payload);
    if (misplaced) throw DomainError.invalid(EXPORT_ERRORS.notForSource, `${misplaced.field} does not apply to source "${payload.source}"`, [misplaced]);
    const range = timeRangeProblem(payload.filters);
    if (range)
      throw DomainError.invalid(EXPORT_ERRORS.invalidTimeRange, 'The time range is the wrong way round', [{ field: 'filters.createdTo', message: range }]);
    if (payload.source === 'file') {
      const cleaned = await findCleanedFile(this.files, (tenant, taskId) => this.ledger.findOne(tenant, taskId), tenantId, payload.fileId!);
      if (cleaned === 'not-found') throw DomainError.notFound(EXPORT_ERRORS.fileNotFound, 'No such file');
      if (cleaned === 'not-cleaned-output')
        throw DomainError.invalid(EXPORT_ERRORS.notCleanedOutput, 'The file is not a cleaned output', [
          { field: 'fileId', message: NOT_CLEANED_OUTPUT_MESSAGE },
        ]);
    }
    return this.tasks.enqueue(EXPORT_CREATE, payload, { tenantId, ...(idempotencyKey ? { idempotencyKey } : {}) });
  }

  async view(tenantId: string, id: string, baseUrl: string): Promise<ExportView> {
    const task = await this.require(tenantId, id);
    const expiresAt = this.expiresAt(task);
    const result = task.status === 'completed' ? (task.result as ExportResult) : null;
    let link: DownloadLink | null = null;
    if (result && expiresAt && expiresAt.getTime() > Date.now()) link = await this.link(task, result, expiresAt, baseUrl);
    return toExportView(task, expiresAt, link);
  }

  async cancel(tenantId: string, id: string): Promise<{ view: ExportView; outcome: string }> {
    await this.require(tenantId, id);
    const { outcome, task } = await this.control.cancel(tenantId, id);
    return { view: toExportView(task, this.expiresAt(task), null), outcome };
  }

  /**
   * The file behind a download link: 403 LINK_INVALID for a link this API did not sign as it
   * stands, 403 LINK_EXPIRED past its expiry, 410 EXPORT_EXPIRED once retention removed the file.
   */
  async download(id: string, query: Record<string, unknown>): Promise<{ file: FileEntity; content: Awaited<ReturnType<FilesService['open']>> }> {
    const check = this.links.check(id, { tenant: query.tenant, expires: query.expires, signature: query.signature });
    if (check === 'invalid') throw DomainError.forbidden('LINK_INVALID', 'The download link is not valid');
    if (check === 'expired') throw DomainError.forbidden('LINK_EXPIRED', 'The download link has expired; GET the export again for a fresh one');
    const task = await this.ledger.findOne(query.tenant as string, id);
    const result = task?.status === 'completed' ? (task.result as ExportResult) : null;
    const file = result ? await this.files.findOne(task!.tenantId, result.fileId) : null;
    const expiresAt = task ? this.expiresAt(task) : null;
    if (!file || !expiresAt || expiresAt.getTime() <= Date.now()) throw new DomainError('gone', 'EXPORT_EXPIRED', 'The export’s file has been deleted');
    return { file, content: await this.files.open(file) };
  }

  private async require(tenantId: string, id: string): Promise<TaskEntity> {
    const task = await this.ledger.findOne(tenantId, id);
    if (!task || task.type !== EXPORT_CREATE.type) throw notFound();
    return task;
  }

  /** A completed export's file lives EXPORT_RETENTION_SECONDS from the end of its task. */
  private expiresAt(task: TaskEntity): Date | null {
    if (task.status !== 'completed' || !task.finishedAt) return null;
    return new Date(task.finishedAt.getTime() + this.config.exports.retentionSeconds * 1000);
  }

  private async link(task: TaskEntity, result: ExportResult, fileExpiresAt: Date, baseUrl: string): Promise<DownloadLink> {
    const ttl = this.config.exports.linkTtlSeconds;
    const expiresAt = new Date(Math.min(Date.now() + ttl * 1000, fileExpiresAt.getTime()));
    if (this.storage.signedDownloadUrl) {
      const expiresInSeconds = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
      const url = await this.storage.signedDownloadUrl(result.storageKey, { expiresInSeconds, fileName: result.name, contentType: result.contentType });
      return { url, expiresAt };
    }
    const signed: SignedLink = this.links.sign(task.tenantId, task.id, Math.floor(expiresAt.getTime() / 1000));
    const query = new URLSearchParams({ tenant: signed.tenant, expires: String(signed.expires), signature: signed.signature });
    return { url: `${baseUrl}/v1/exports/${task.id}/download?${query.toString()}`, expiresAt: new Date(signed.expires * 1000) };
  }
}
