import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { failpoint } from '@conveyor/tasks';
import { SecretSealer, SecretUnreadable } from '../signing/secret-sealer';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { consumesWebhooks } from './delivery-dispatcher';

const BATCH = 100;

export interface ResealReport {
  /** Rows whose secrets are now sealed under the current key. */
  resealed: number;
  /** Rows this process cannot open (a key missing): left as they are. */
  unreadable: number;
}

/**
 * Seals every stored secret under the current WEBHOOK_SECRET_KEY: legacy plain ones, and those
 * sealed under a key now in WEBHOOK_SECRET_KEYS_OLD (key rotation); a previous secret past its
 * grace is dropped instead. Runs once at each start of a worker that delivers webhooks. Each
 * row is a compare-and-set on the values it read, so a rotation or another worker's pass
 * meanwhile is never overwritten, and a kill -9 mid-pass leaves every row readable (old or new
 * envelope): the next start finishes the work.
 */
@Injectable()
export class SecretResealer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SecretResealer.name);
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  /** The pass this start made (in the background: the worker does not wait for it); null if none. */
  bootPass: Promise<ResealReport | null> = Promise.resolve(null);

  onApplicationBootstrap(): void {
    if (this.sealer.currentKeyId === null || !consumesWebhooks(this.config)) return;
    this.bootPass = this.resealAll().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'resealing webhook secrets failed; the next start retries');
      return null;
    });
  }

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  /** The whole pass, in batches of rows after the last id seen; stops between rows at shutdown. */
  async resealAll(): Promise<ResealReport> {
    const report: ResealReport = { resealed: 0, unreadable: 0 };
    const current = this.sealer.currentKeyId;
    if (current === null) return report;
    const endpoints = this.dataSource.getRepository(WebhookEndpointEntity);
    const stale = `v1:${current}:%`;
    let after: string | null = null;
    for (let batch = 0; !this.stopping.signal.aborted; batch++) {
      const query = endpoints
        .createQueryBuilder('e')
        .where('(e.secret NOT LIKE :stale OR (e.previous_secret IS NOT NULL AND e.previous_secret NOT LIKE :stale))', { stale })
        .orderBy('e.id', 'ASC')
        .limit(BATCH);
      if (after !== null) query.andWhere('e.id > :after', { after });
      const rows = await query.getMany();
      if (rows.length === 0) break;
      if (batch === 1) failpoint('webhook-reseal-mid-pass');
      for (const row of rows) {
        if (this.stopping.signal.aborted) break;
        const outcome = await this.reseal(row);
        if (outcome === 'unreadable') report.unreadable++;
        else if (outcome === 'resealed') report.resealed++;
      }
      after = rows[rows.length - 1].id;
    }
    if (report.resealed + report.unreadable > 0) this.logger.log({ ...report, keyId: current }, 'webhook secrets resealed under the current key');
    return report;
  }

  private async reseal(row: WebhookEndpointEntity): Promise<'resealed' | 'unreadable' | 'raced'> {
    const expired = row.previousSecretUntil === null || row.previousSecretUntil.getTime() <= this.clock.now();
    let changes: Pick<WebhookEndpointEntity, 'sealedSecret' | 'sealedPreviousSecret'>;
    try {
      changes = {
        sealedSecret: this.again(row.sealedSecret, row.id),
        sealedPreviousSecret: row.sealedPreviousSecret === null || expired ? null : this.again(row.sealedPreviousSecret, row.id),
      };
    } catch (error) {
      if (error instanceof SecretUnreadable) return 'unreadable';
      throw error;
    }
    const result = await this.dataSource.getRepository(WebhookEndpointEntity).update(
      {
        id: row.id,
        sealedSecret: row.sealedSecret,
        sealedPreviousSecret: row.sealedPreviousSecret === null ? IsNull() : row.sealedPreviousSecret,
      },
      changes,
    );
    return result.affected ? 'resealed' : 'raced';
  }

  private again(stored: string, endpointId: string): string {
    return this.sealer.stale(stored) ? this.sealer.seal(this.sealer.open(stored, endpointId), endpointId) : stored;
  }
}
