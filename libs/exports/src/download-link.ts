import { createHmac, timingSafeEqual } from 'node:crypto';

export type LinkCheck = 'valid' | 'invalid' | 'expired';

/** The query of a download link: tenant, expiry (Unix seconds) and signature. */
export interface SignedLink {
  tenant: string;
  expires: number;
  signature: string;
}

/**
 * Download links signed with HMAC-SHA256 over the tenant, the export id and the expiry, so a
 * link names one export of one tenant until one instant, and changing any part breaks it. The
 * signature is checked before the expiry: a link whose expiry was edited is invalid, not expired.
 */
export class DownloadLinks {
  constructor(private readonly secret: string) {}

  sign(tenant: string, exportId: string, expires: number): SignedLink {
    return { tenant, expires, signature: this.mac(tenant, exportId, expires) };
  }

  check(exportId: string, link: { tenant?: unknown; expires?: unknown; signature?: unknown }, now = Date.now()): LinkCheck {
    const { tenant, expires, signature } = link;
    if (typeof tenant !== 'string' || typeof expires !== 'string' || typeof signature !== 'string') return 'invalid';
    if (!/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return 'invalid';
    const expected = Buffer.from(this.mac(tenant, exportId, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    return Number(expires) * 1000 <= now ? 'expired' : 'valid';
  }

  private mac(tenant: string, exportId: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`export-download\n${tenant}\n${exportId}\n${expires}`).digest('base64url');
  }
}
