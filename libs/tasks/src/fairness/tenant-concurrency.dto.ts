import { IsInt, Max, Min, ValidateIf } from 'class-validator';

/** Most a tenant's cap may be set to (per queue); 0 means no cap. */
export const MAX_TENANT_CONCURRENCY = 100_000;

/** Body of `PUT /v1/admin/tenants/:tenant/concurrency`. */
export class SetTenantConcurrencyDto {
  /** Running tasks of the tenant per queue, across all workers; 0: no cap; null: back to TENANT_CONCURRENCY_DEFAULT. */
  @ValidateIf((_, value) => value !== null)
  @IsInt()
  @Min(0)
  @Max(MAX_TENANT_CONCURRENCY)
  limit: number | null;
}

/** The tenant's cap in one queue and what it runs there now. */
export class TenantQueueConcurrencyView {
  queue: string;
  /** The cap in force: the tenant's own, else the default; 0 means no cap. */
  limit: number;
  /** `tenant` when an admin set the tenant's own cap, else `default`. */
  source: 'tenant' | 'default';
  /** Tasks of the tenant running in this queue now (slots held, across all workers). */
  running: number;
}

/** Answer of `GET` and `PUT /v1/admin/tenants/:tenant/concurrency`. */
export class TenantConcurrencyView {
  tenant: string;
  /** Whether fairness (ordering and caps) is on in this deployment (FAIRNESS). */
  fairness: boolean;
  /** TENANT_CONCURRENCY_DEFAULT. */
  defaultLimit: number;
  queues: TenantQueueConcurrencyView[];
}
