import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { SecretSealer } from './secret-sealer';

/** How the stored secrets are kept: how many plain, and how many sealed under each key id. */
export interface StoredSecretKinds {
  plain: number;
  byKey: Record<string, number>;
}

/** A stored secret (current or previous) that no configured key opens, or a key missing. */
export class SecretKeyProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyProblem';
  }
}

/**
 * At boot, API and worker alike: are the stored signing secrets readable with the keys this
 * process has? In production a process that could not sign (or show) them refuses to start,
 * saying which key is missing; elsewhere it warns. A database it cannot ask (not migrated yet,
 * away) is not this check's to judge: it logs and lets the boot go on.
 */
@Injectable()
export class SecretKeyCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger(SecretKeyCheck.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    let kinds: StoredSecretKinds;
    try {
      kinds = await this.storedKinds();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not check the stored webhook secrets against the configured keys');
      return;
    }
    const problem = this.problem(kinds);
    if (!problem) return;
    if (this.config.env === 'production') throw new SecretKeyProblem(problem);
    this.logger.warn({ plain: kinds.plain, sealedByKey: kinds.byKey }, problem);
  }

  /** What is wrong with the keys for these stored secrets, in words an operator can act on; null if nothing. */
  problem(kinds: StoredSecretKinds): string | null {
    const stored = kinds.plain + Object.values(kinds.byKey).reduce((sum, n) => sum + n, 0);
    if (this.sealer.currentKeyId === null && stored > 0)
      return (
        `WEBHOOK_SECRET_KEY is not set while ${stored} webhook secret(s) are stored (${kinds.plain} in plain text): ` +
        'set it (32 random bytes in base64, e.g. `openssl rand -base64 32`) and, if they were sealed, their key in WEBHOOK_SECRET_KEYS_OLD'
      );
    const known = new Set(this.sealer.knownKeyIds());
    const unknown = Object.keys(kinds.byKey).filter((id) => !known.has(id));
    if (unknown.length > 0)
      return (
        `webhook secrets are sealed under key(s) ${unknown.join(', ')} that this process does not have: ` +
        'list the former key in WEBHOOK_SECRET_KEYS_OLD until the worker has sealed them again under WEBHOOK_SECRET_KEY'
      );
    return null;
  }

  /** One aggregate over both secret columns; a sealed value's key id is its characters 4–11 (`v1:<id>:…`). */
  async storedKinds(): Promise<StoredSecretKinds> {
    const rows = await this.dataSource.query<Array<{ kind: string; n: string | number }>>(
      `SELECT kind, COUNT(*) AS n FROM (` +
        `SELECT CASE WHEN secret LIKE 'v1:%' THEN SUBSTRING(secret, 4, 8) ELSE '' END AS kind FROM webhook_endpoints ` +
        `UNION ALL SELECT CASE WHEN previous_secret LIKE 'v1:%' THEN SUBSTRING(previous_secret, 4, 8) ELSE '' END FROM webhook_endpoints WHERE previous_secret IS NOT NULL` +
        `) stored GROUP BY kind`,
    );
    const kinds: StoredSecretKinds = { plain: 0, byKey: {} };
    for (const { kind, n } of rows) {
      if (kind === '') kinds.plain += Number(n);
      else kinds.byKey[kind] = Number(n);
    }
    return kinds;
  }
}
