import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { JobRelay } from '../intake/job-relay';
import { FAIRNESS_KEYS } from './fair-ordering';
import { TENANT_CAP } from './tenant-slot-scripts';
import type { TenantConcurrencyView } from './tenant-concurrency.dto';

/**
 * Per-tenant caps at runtime. A cap lives in each queue's caps hash (under the queue's key
 * prefix, so it shares the queue's hash tag); workers read it on every admission, so a change
 * applies to the next task taken, in every worker, with no message to deliver.
 */
@Injectable()
export class TenantConcurrencyService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    private readonly relay: JobRelay,
  ) {}

  get(tenant: string): Promise<TenantConcurrencyView> {
    return this.apply(tenant, ['get']);
  }

  /** Sets the tenant's own cap in every queue, or (null) drops it for the default. */
  set(tenant: string, limit: number | null): Promise<TenantConcurrencyView> {
    return this.apply(tenant, ['set', limit === null ? '' : limit]);
  }

  private async apply(tenant: string, op: Array<string | number>): Promise<TenantConcurrencyView> {
    const defaultLimit = this.config.fairness.tenantConcurrencyDefault;
    const queues = await Promise.all(
      this.registry.queues().map(async (name) => {
        const queue = this.relay.queue(name);
        const [own, running] = (await TENANT_CAP.run(queue, [queue.toKey(FAIRNESS_KEYS.caps), queue.toKey(FAIRNESS_KEYS.running + tenant), tenant, ...op])) as [
          number,
          number,
        ];
        return own >= 0
          ? { queue: name, limit: own, source: 'tenant' as const, running }
          : { queue: name, limit: defaultLimit, source: 'default' as const, running };
      }),
    );
    return { tenant, fairness: this.config.fairness.enabled, defaultLimit, queues };
  }
}
