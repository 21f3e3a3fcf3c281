import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { FileEntity, FilesService } from '@conveyor/files';

const BATCH_SIZE = 500;

/**
 * Deletes export files older than EXPORT_RETENTION_SECONDS, every RETENTION_INTERVAL_MS. The
 * export's task stays (its view then says `expired`); the task's own retention removes it later.
 * Safe in several workers at once: deleting a file twice is harmless.
 */
@Injectable()
export class ExportRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExportRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly files: FilesService,
    @InjectRepository(FileEntity) private readonly rows: Repository<FileEntity>,
  ) {}

  onApplicationBootstrap(): void {
    const interval = this.config.maintenance.retentionIntervalMs;
    if (interval <= 0) return;
    this.timer = setInterval(() => {
      if (!this.running) void this.purgeOnce().catch((error: unknown) => this.logger.warn({ err: error }, 'export retention failed; next run retries'));
    }, interval);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; `now` is for tests. Returns the number of files deleted. */
  purgeOnce(now = new Date()): Promise<number> {
    this.running = this.purge(new Date(now.getTime() - this.config.exports.retentionSeconds * 1000)).finally(() => (this.running = undefined));
    return this.running;
  }

  private async purge(cutoff: Date): Promise<number> {
    let deleted = 0;
    for (;;) {
      const batch = await this.rows.find({ where: { kind: 'export', createdAt: LessThan(cutoff) }, order: { createdAt: 'ASC' }, take: BATCH_SIZE });
      await this.files.remove(batch);
      deleted += batch.length;
      if (batch.length < BATCH_SIZE) break;
    }
    if (deleted > 0) this.logger.log({ deleted, createdBefore: cutoff.toISOString() }, 'expired exports deleted');
    return deleted;
  }
}
