import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A key's public name in envelopes: derived from the key, so operators never have to name keys. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('conveyor:webhook-secret-key:').update(key).digest('base64url').slice(0, 8);
}

/** The key id of a stored secret; null for a legacy plain one. */
export function sealedKeyId(stored: string): string | null {
  return stored.startsWith(`${VERSION}:`) ? stored.split(':')[1] : null;
}

/** A stored secret this process cannot open: sealed under a key it was not given, or altered. */
export class SecretUnreadable extends Error {
  constructor(readonly keyId: string | null) {
    super(
      keyId
        ? `webhook secret sealed under key ${keyId}, which is neither WEBHOOK_SECRET_KEY nor in WEBHOOK_SECRET_KEYS_OLD (or the stored value was altered)`
        : 'webhook secret unreadable',
    );
    this.name = 'SecretUnreadable';
  }
}

/** Sealing asked for without a key where plain storage is not allowed (production). */
export class SecretKeyMissing extends Error {
  constructor() {
    super('WEBHOOK_SECRET_KEY is not set: webhook signing secrets cannot be stored');
    this.name = 'SecretKeyMissing';
  }
}

/**
 * Endpoint signing secrets at rest: AES-256-GCM under WEBHOOK_SECRET_KEY, stored as the
 * envelope `v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts). The endpoint's id is the
 * additional data, so a sealed value copied onto another row does not open there. Former keys
 * (WEBHOOK_SECRET_KEYS_OLD) only open; a value sealed under one is sealed again under the
 * current key by the next write and by the worker's reseal pass. A value without the `v1:`
 * prefix is a legacy plain secret (written before sealing existed, or without a key in
 * development) and is read as is.
 */
export class SecretSealer {
  readonly currentKeyId: string | null;
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly current: Buffer | null,
    old: Buffer[] = [],
    /** Without a key, store plain (development, tests) or refuse (production). */
    private readonly plainAllowed = true,
  ) {
    this.currentKeyId = current ? secretKeyId(current) : null;
    for (const key of [...old, ...(current ? [current] : [])]) this.keys.set(secretKeyId(key), key);
  }

  /** Key ids this process can open. */
  knownKeyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(secret: string, endpointId: string): string {
    if (!this.current) {
      if (this.plainAllowed) return secret;
      throw new SecretKeyMissing();
    }
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(endpointId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [VERSION, this.currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
  }

  open(stored: string, endpointId: string): string {
    const keyId = sealedKeyId(stored);
    if (keyId === null) return stored;
    const [, , iv, tag, ciphertext] = stored.split(':');
    const key = this.keys.get(keyId);
    if (!key || iv === undefined || tag === undefined || ciphertext === undefined) throw new SecretUnreadable(keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(endpointId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadable(keyId);
    }
  }

  /** Whether a stored value should be sealed again: plain, or under another key than the current one. */
  stale(stored: string): boolean {
    return this.currentKeyId !== null && sealedKeyId(stored) !== this.currentKeyId;
  }
}

const aad = (endpointId: string) => Buffer.from(`conveyor:webhook-endpoint:${endpointId}`, 'utf8');
