import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { TaskMetrics } from '@conveyor/observability';
import { ApiKeyEntity } from './api-key.entity';
import { DEFAULT_TENANT, SCOPES, SYSTEM_TENANT, type Principal, type Scope } from '@conveyor/http';

const KEY_PATTERN = /^cvk_([0-9a-f]{8})_[A-Za-z0-9_-]{32}$/;
/**
 * Unknown keys are remembered briefly, so a client repeating a bad key costs no queries; only
 * briefly, because a key created in another process must start working soon. Distinct unknown
 * keys are bounded by the per-address failure limit, and kept apart from the known ones so a
 * flood of them cannot push live keys out of the cache.
 */
const NEGATIVE_TTL_MS = 5000;
const MAX_CACHED = 10_000;
const MAX_CACHED_UNKNOWN = 10_000;

/**
 * Working keys presented lately, with their sha256: a request with a key seen within this long
 * costs a map lookup instead of a hash (~3 % of the API's CPU per enqueue). Only the hash is
 * cached, never the decision: whether the key still works is asked of `known` on every request,
 * so a revocation in this process takes effect at once, as before.
 */
const PRESENTED_TTL_MS = 60_000;

interface PresentedKey {
  hash: string;
  bootstrap: boolean;
  cached: boolean;
}

export const BOOTSTRAP_KEY_ID = 'bootstrap-admin';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface CreatedApiKey {
  id: string;
  key: string;
  tenant: string;
  scopes: Scope[];
  prefix: string;
  name: string | null;
  createdAt: string;
}

/**
 * API keys per tenant. Lookups are cached for AUTH_CACHE_TTL_MS, so at full load a request
 * costs no database round trip; the price is that a revoked key keeps working in other API
 * processes for at most that long (the process that revokes forgets it at once).
 */
@Injectable()
export class ApiKeyService {
  private readonly known = new BoundedTtlCache<Principal>(MAX_CACHED);
  private readonly unknown = new BoundedTtlCache<true>(MAX_CACHED_UNKNOWN);
  private readonly presented = new BoundedTtlCache<PresentedKey>(MAX_CACHED);
  private readonly bootstrapHash?: Buffer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    // Absent in the keys CLI, which has no metrics.
    @Optional() private readonly metrics?: TaskMetrics,
  ) {
    const admin = config.security.adminKey;
    if (admin) this.bootstrapHash = Buffer.from(sha256(admin), 'hex');
  }

  /** A presented key's hash, and whether it is the bootstrap key: from the cache, or computed. */
  private identify(presented: string, now: number): PresentedKey {
    const cached = this.presented.get(presented, now);
    if (cached) return cached;
    const hash = sha256(presented);
    return { hash, bootstrap: !!this.bootstrapHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.bootstrapHash), cached: false };
  }

  /** Caches a working key's hash; keys that do not work never enter, so they cannot push working ones out. */
  private remember(presented: string, key: PresentedKey, now: number): void {
    if (!key.cached) this.presented.set(presented, { ...key, cached: true }, now + PRESENTED_TTL_MS);
  }

  async create(tenant: string, scopes: Scope[], name?: string): Promise<CreatedApiKey> {
    // The system tenant owns code-declared schedules and housekeeping runs; a key of its own
    // would let a client read, cancel or retry them.
    if (tenant === SYSTEM_TENANT) {
      throw DomainError.invalid('TENANT_RESERVED', `tenant "${SYSTEM_TENANT}" is reserved for Conveyor's own schedules and housekeeping`, [
        { field: 'tenant', message: 'reserved' },
      ]);
    }
    const prefix = randomBytes(4).toString('hex');
    const key = `cvk_${prefix}_${randomBytes(24).toString('base64url')}`;
    const row = Object.assign(new ApiKeyEntity(), {
      id: uuidv7(),
      tenantId: tenant,
      prefix,
      keyHash: sha256(key),
      scopes: [...new Set(scopes)].sort(),
      name: name ?? null,
      createdAt: new Date(),
      revokedAt: null,
    });
    await this.keys.insert(row);
    this.unknown.delete(row.keyHash);
    return { id: row.id, key, tenant, scopes: row.scopes, prefix, name: row.name, createdAt: row.createdAt.toISOString() };
  }

  list(): Promise<ApiKeyEntity[]> {
    return this.keys.find({ where: { revokedAt: IsNull() }, order: { id: 'DESC' } });
  }

  /** Returns whether a live key was revoked. */
  async revoke(id: string): Promise<boolean> {
    const key = await this.keys.findOneBy({ id, revokedAt: IsNull() });
    if (!key) return false;
    await this.keys.update({ id }, { revokedAt: new Date() });
    this.known.delete(key.keyHash);
    return true;
  }

  /**
   * What a presented key stands for without asking the database: its principal, null for a
   * key known not to work (malformed, or looked up and unknown within NEGATIVE_TTL_MS), or
   * undefined when only a lookup can tell.
   */
  peek(presented: string): Principal | null | undefined {
    const now = Date.now();
    const key = this.identify(presented, now);
    if (key.bootstrap) {
      this.remember(presented, key, now);
      return { keyId: BOOTSTRAP_KEY_ID, tenantId: DEFAULT_TENANT, scopes: SCOPES };
    }
    if (!KEY_PATTERN.test(presented)) return null;
    const principal = this.known.get(key.hash, now);
    if (principal) {
      this.remember(presented, key, now);
      return principal;
    }
    return this.unknown.get(key.hash, now) ? null : undefined;
  }

  /** The principal a presented key stands for, or null; looks it up unless peek() knows. */
  async verify(presented: string): Promise<Principal | null> {
    const known = this.peek(presented);
    if (known !== undefined) return known;
    const { hash } = this.identify(presented, Date.now());
    const row = await this.keys.findOneBy({ keyHash: hash, revokedAt: IsNull() });
    this.metrics?.apiKeyLookup(row ? 'found' : 'unknown');
    const until = Date.now() + Math.min(NEGATIVE_TTL_MS, this.config.security.authCacheTtlMs);
    if (!row) {
      this.unknown.set(hash, true, until);
      return null;
    }
    const principal: Principal = { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes };
    this.known.set(hash, principal, Date.now() + this.config.security.authCacheTtlMs);
    return principal;
  }
}

/** A Map with per-entry expiry that forgets its oldest entry when full. */
class BoundedTtlCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(private readonly max: number) {}

  get(key: string, now: number): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: T, until: number): void {
    if (until <= Date.now()) return;
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
