import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileStorage } from './file-storage';

const ignoreError = (): void => undefined;

/** Files under one directory; writes go to a temporary name and are renamed when complete. */
export class LocalFileStorage implements FileStorage {
  readonly driver = 'local' as const;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    // Defence in depth: keys are already built from safe parts (see storageKey).
    if (!path.startsWith(this.root + sep)) throw new Error(`storage key escapes the storage directory: ${key}`);
    return path;
  }

  async put(key: string, content: Readable): Promise<void> {
    const path = this.pathOf(key);
    // The source may fail (a client going away) while the directory is made, before pipeline()
    // listens: an 'error' with no listener would take the process down. Catch it here; the
    // check below turns it into this call's rejection.
    content.on('error', ignoreError);
    await mkdir(dirname(path), { recursive: true });
    if (content.destroyed) throw content.errored ?? new Error('the source stream closed before it was stored');
    const partial = `${path}.part-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(content, createWriteStream(partial, { flags: 'wx' }));
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    await stat(path); // a clear ENOENT before streaming starts
    return createReadStream(path, { highWaterMark: 256 * 1024 });
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
