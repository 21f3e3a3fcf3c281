import type { Readable } from 'node:stream';

/** Where file bytes live. Keys are `<tenant>/<file id>`; metadata lives in the ledger database. */
export interface FileStorage {
  readonly driver: 'local' | 's3';
  /** Stores the stream under `key`; the object appears only once it is complete. */
  put(key: string, content: Readable): Promise<void>;
  /** Streams the object. Rejects if it does not exist. */
  get(key: string): Promise<Readable>;
  /** Removes the object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A URL that downloads the object without credentials until it expires, for stores that can
   * sign one themselves (S3); absent for the local driver, whose files the API serves.
   */
  signedDownloadUrl?(key: string, options: { expiresInSeconds: number; fileName: string; contentType: string }): Promise<string>;
  /** Releases the store's connections (S3's sockets) at shutdown. */
  destroy?(): void;
}

export const FILE_STORAGE = Symbol('FILE_STORAGE');

/** Storage keys are built only from a validated tenant and a UUID: no user text reaches a path. */
export function storageKey(tenantId: string, fileId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(tenantId) || !/^[0-9a-f-]{36}$/.test(fileId)) {
    throw new Error(`unsafe storage key parts: ${JSON.stringify({ tenantId, fileId })}`);
  }
  return `${tenantId}/${fileId}`;
}
