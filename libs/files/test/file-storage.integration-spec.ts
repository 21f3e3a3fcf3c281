import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '@conveyor/database';
import { FileEntity, FilesService, FileTooLargeError, LocalFileStorage, storageKey, type FileStorage } from '@conveyor/files';
import { S3FileStorage } from '@conveyor/files/s3';
import { createTestDatabase, DIALECTS, freePort, type TestDatabase } from '@conveyor/testing';
import { uuidv7 } from 'uuidv7';

// s3rver ships no typings; it is a test-only, in-process S3-compatible server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };

const BUCKET = 'conveyor-test';

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** ~N MiB of pseudo-random bytes, produced in chunks (never one big buffer in the source). */
function generated(mib: number): { stream: () => Readable; sha256: string; size: number } {
  const chunks = Array.from({ length: mib * 4 }, (_, i) =>
    createHash('sha256')
      .update(String(i))
      .digest()
      .toString('hex')
      .repeat(4096)
      .slice(0, 256 * 1024),
  );
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return { stream: () => Readable.from(chunks.map((c) => Buffer.from(c))), sha256: hash.digest('hex'), size: mib * 1024 * 1024 };
}

const drivers: Array<[string, () => Promise<{ storage: FileStorage; close(): Promise<void> }>]> = [
  [
    'local directory',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'conveyor-storage-'));
      return { storage: new LocalFileStorage(dir), close: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'S3-compatible server',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'conveyor-s3-'));
      const port = await freePort();
      const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
      await server.run();
      const storage = new S3FileStorage({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket: BUCKET,
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
      });
      return {
        storage,
        close: async () => {
          storage.destroy();
          await server.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(drivers)('file storage: %s', (_name, create) => {
  let storage: FileStorage;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ storage, close } = await create());
  });

  afterAll(async () => {
    await close?.();
  });

  it('streams a 20 MiB object in and out unchanged, then deletes it (twice is fine)', async () => {
    const key = storageKey('tenant-a', uuidv7());
    const data = generated(20);
    await storage.put(key, data.stream());
    const back = await read(await storage.get(key));
    expect(back.length).toBe(data.size);
    expect(createHash('sha256').update(back).digest('hex')).toBe(data.sha256);
    await storage.delete(key);
    await storage.delete(key);
    await expect(storage.get(key)).rejects.toThrow();
  });

  it('does not publish an object whose source stream failed', async () => {
    const key = storageKey('tenant-a', uuidv7());
    const failing = new Readable({ read() {} });
    failing.push(randomBytes(1024));
    setTimeout(() => failing.destroy(new Error('client went away')), 20);
    await expect(storage.put(key, failing)).rejects.toThrow();
    await expect(storage.get(key)).rejects.toThrow();
  });

  it('rejects (and nothing crashes) when the source fails before it is first read', async () => {
    const key = storageKey('tenant-a', uuidv7());
    const failing = new Readable({ read() {} });
    const put = storage.put(key, failing);
    // Fails at once, while the storage is still getting ready (e.g. making its directory).
    failing.destroy(new Error('client went away'));
    await expect(put).rejects.toThrow();
    await expect(storage.get(key)).rejects.toThrow();
  });
});

describe('storage keys', () => {
  it('are built only from a safe tenant and a UUID', () => {
    expect(storageKey('acme', '01936f7c-0000-7000-8000-000000000001')).toBe('acme/01936f7c-0000-7000-8000-000000000001');
    expect(() => storageKey('../etc', '01936f7c-0000-7000-8000-000000000001')).toThrow();
    expect(() => storageKey('acme', '../../passwd')).toThrow();
  });

  it('cannot leave the local storage directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-storage-'));
    try {
      const storage = new LocalFileStorage(dir);
      await expect(storage.put('../outside', Readable.from([Buffer.from('x')]))).rejects.toThrow(/escapes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(DIALECTS)('files service on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let dir: string;
  let files: FilesService;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataSource = new DataSource(buildDataSourceOptions(database.config, [FileEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    dir = mkdtempSync(join(tmpdir(), 'conveyor-files-'));
    files = new FilesService(new LocalFileStorage(dir), dataSource.getRepository(FileEntity));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores bytes and metadata with size and sha256 computed while streaming', async () => {
    const data = generated(3);
    const file = await files.store('tenant-a', data.stream(), { name: '../../etc/pass"wd\u0007.csv', contentType: 'text/csv', kind: 'upload' });
    expect(file).toMatchObject({ size: data.size, sha256: data.sha256, name: 'pass"wd.csv'.replace('"', ''), contentType: 'text/csv' });
    const stored = await files.findOne('tenant-a', file.id);
    expect(stored).toMatchObject({ size: data.size, sha256: data.sha256, kind: 'upload' });
    expect(await files.findOne('tenant-b', file.id)).toBeNull();
    const back = await read(await files.open(stored!));
    expect(createHash('sha256').update(back).digest('hex')).toBe(data.sha256);
  });

  it('refuses a file over the limit and leaves neither bytes nor a row behind', async () => {
    const before = await dataSource.getRepository(FileEntity).count();
    await expect(files.store('tenant-a', generated(2).stream(), { kind: 'upload', maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(FileTooLargeError);
    expect(await dataSource.getRepository(FileEntity).count()).toBe(before);
    const leftovers = readdirSync(join(dir, 'tenant-a')).filter((name) => name.includes('.part-'));
    expect(leftovers).toEqual([]);
  });
});
