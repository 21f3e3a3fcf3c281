import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { In } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { filterAccepts, subscribes } from './event-match';

/** What a transition is, for matching: its event type and what is known of the task. */
export interface EventSubject {
  tenantId?: string;
  eventType: string;
  taskType?: string;
  tags?: string[] | null;
}

const taskOf = (subject: EventSubject) => ({ type: subject.taskType, tags: subject.tags });

type Subscription = Pick<WebhookEndpointEntity, 'id' | 'tenantId' | 'events' | 'filter' | 'activeFrom'>;

/**
 * Every enabled endpoint's subscription, in memory, so a task's state change can tell without
 * a query whether any endpoint wants it (the ledger writer asks for every change).
 *
 * Staleness is bounded, and never loses an event: an endpoint (or a change of its events) is
 * active from `activeFrom` = commit time + WEBHOOK_ACTIVATION_DELAY_MS, and this cache is only
 * trusted while its last load began less than that delay ago. So an endpoint this cache does
 * not know yet was committed after the load began, and its `activeFrom` lies after every
 * transition judged with this cache: none of them is owed to it. Past the delay without a
 * fresh load (the database away), the cache is not trusted: every transition is looked up in
 * SQL inside its transaction. A cache that still lists a removed or disabled endpoint only
 * costs work: the delivery finds the endpoint gone and ends.
 */
@Injectable()
export class SubscriptionCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SubscriptionCache.name);
  private byTenant = new Map<string, Subscription[]>();
  private loadedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh().catch(() => undefined);
    const every = Math.max(100, Math.floor(this.config.webhooks.activationDelayMs / 4));
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Whether the in-memory copy may answer (its load began within the activation delay). */
  get trusted(): boolean {
    return performance.now() - this.loadedAt < this.config.webhooks.activationDelayMs;
  }

  /** Reloads now (after a change made by this process: it sees its own change at once). */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    const started = performance.now();
    try {
      const rows = await this.dataSource.getRepository(WebhookEndpointEntity).find({
        select: { id: true, tenantId: true, events: true, filter: true, activeFrom: true },
        where: { enabled: true, kind: 'endpoint' },
      });
      const byTenant = new Map<string, Subscription[]>();
      for (const row of rows) byTenant.set(row.tenantId, [...(byTenant.get(row.tenantId) ?? []), row]);
      this.byTenant = byTenant;
      this.loadedAt = started;
    } catch (error) {
      this.logger.warn({ err: error }, 'loading webhook subscriptions failed; transitions are checked in SQL until a load succeeds');
      throw error;
    }
  }

  /**
   * From memory: whether an endpoint may want this event. True when unsure (cache not trusted,
   * or tenant unknown and some endpoint subscribes): the caller then checks precisely.
   */
  mayWant(subject: EventSubject): boolean {
    if (!this.trusted) return true;
    const candidates = subject.tenantId === undefined ? [...this.byTenant.values()].flat() : (this.byTenant.get(subject.tenantId) ?? []);
    return candidates.some((s) => subscribes(s.events, subject.eventType) && filterAccepts(s.filter, taskOf(subject)));
  }

  /** The endpoints of these tenants, from memory when trusted, else read in `manager`'s transaction. */
  async subscriptions(manager: EntityManager, tenantIds: string[]): Promise<Subscription[]> {
    if (this.trusted) return tenantIds.flatMap((tenantId) => this.byTenant.get(tenantId) ?? []);
    return manager.getRepository(WebhookEndpointEntity).find({
      select: { id: true, tenantId: true, events: true, filter: true, activeFrom: true },
      where: { enabled: true, kind: 'endpoint', tenantId: In(tenantIds) },
    });
  }
}

/** The subscriptions that want an event of a transition at `at`. */
export function matching(subscriptions: Subscription[], subject: EventSubject & { tenantId: string }, at: Date): Subscription[] {
  return subscriptions.filter(
    (s) =>
      s.tenantId === subject.tenantId && s.activeFrom.getTime() <= at.getTime() && subscribes(s.events, subject.eventType) && filterAccepts(s.filter, subject),
  );
}
