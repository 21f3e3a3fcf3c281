import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { ApiKeyEntity } from './api-key.entity';
import { DEFAULT_TENANT, SCOPES, type Principal, type Scope } from '@conveyor/http';

const KEY_PATTERN = /^cvk_([0-9a-f]{8})_[A-Za-z0-9_-]{32}$/;
/** Unknown keys are remembered briefly too, so a client hammering with a bad key costs no queries. */
const NEGATIVE_TTL_MS = 5000;
const MAX_CACHED = 10_000;

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
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private readonly bootstrapHash?: Buffer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
  ) {
    const admin = config.security.adminKey;
    if (admin) this.bootstrapHash = Buffer.from(sha256(admin), 'hex');
  }

  async create(tenant: string, scopes: Scope[], name?: string): Promise<CreatedApiKey> {
    const prefix = randomBytes(4).toString('hex');
    const key = `cvk_${prefix}_${randomBytes(24).toString('base64url')}`;
    const row = Object.assign(new ApiKeyEntity(), {
      id: uuidv7(),
      tenantId: tenant,
      prefix,
      keyHash: sha256(key),
      scopes: [...new Set(scopes)].sort() as Scope[],
      name: name ?? null,
      createdAt: new Date(),
      revokedAt: null,
    });
    await this.keys.insert(row);
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
    this.cache.delete(key.keyHash);
    return true;
  }

  /** The principal a presented key stands for, or null. */
  async verify(presented: string): Promise<Principal | null> {
    const hash = sha256(presented);
    if (this.bootstrapHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.bootstrapHash)) {
      return { keyId: BOOTSTRAP_KEY_ID, tenantId: DEFAULT_TENANT, scopes: SCOPES };
    }
    if (!KEY_PATTERN.test(presented)) return null;
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.until > now) return cached.principal;

    const row = await this.keys.findOneBy({ keyHash: hash, revokedAt: IsNull() });
    const principal = row ? { keyId: row.id, tenantId: row.tenantId, scopes: row.scopes } : null;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hash, { principal, until: now + (principal ? this.config.security.authCacheTtlMs : NEGATIVE_TTL_MS) });
    return principal;
  }
}
