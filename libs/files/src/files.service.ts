import type {} from '@fastify/multipart';
import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, type Repository } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { DomainError } from '@conveyor/errors';
import { FileEntity, type FileKind } from './file.entity';
import { FILE_STORAGE, storageKey, type FileStorage } from './storage/file-storage';

export class FileTooLargeError extends DomainError {
  constructor(limit: number) {
    super('too_large', 'FILE_TOO_LARGE', `The file is larger than the limit of ${limit} bytes`);
  }
}

// Control characters and double quotes: what a stored name and a Content-Disposition header must not carry.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_CHARACTERS = /[\u0000-\u001f\u007f"]/g;

/** A display name that is safe in headers and listings: no path, no control characters. */
export function safeFileName(raw: string | undefined, fallback = 'file'): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = base.replace(UNSAFE_NAME_CHARACTERS, '').replace(/^\.+/, '').trim().slice(0, 255);
  return cleaned || fallback;
}

/**
 * A multipart body the parser cannot read (no boundary, cut short, malformed part headers) is
 * the client's mistake: 400, where busboy's plain Error would have become a 500. Errors that
 * already say what they are (ours, or the plugin's limits with their HTTP status) stay as they are.
 */
function unreadableMultipart(error: unknown): unknown {
  if (error instanceof DomainError || error instanceof HttpException || typeof (error as { statusCode?: unknown })?.statusCode === 'number') return error;
  const reason = error instanceof Error ? error.message : String(error);
  return DomainError.invalid('INVALID_MULTIPART', 'The multipart body cannot be read', [{ field: 'body', message: reason }]);
}

/** The request's parts, with read errors turned into client errors (see unreadableMultipart). */
async function* readableParts<T>(parts: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = parts[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw unreadableMultipart(error);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/** Text fields an upload form may carry besides its file, and the size of each. */
export const MAX_FORM_FIELDS = 20;
export const MAX_FORM_FIELD_BYTES = 1024 * 1024;

export interface StoreOptions {
  name?: string;
  contentType?: string;
  kind: FileKind;
  taskId?: string | null;
  /** Fails with FILE_TOO_LARGE once this many bytes have passed. */
  maxBytes?: number;
}

/** Stores and serves files: bytes to the FileStorage, metadata to the `files` table. */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);

  constructor(
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    @InjectRepository(FileEntity) private readonly files: Repository<FileEntity>,
  ) {}

  /**
   * Streams `content` into storage while hashing and counting it; the metadata row is written
   * only after the bytes are complete, so a failed or oversized upload leaves nothing behind.
   */
  async store(tenantId: string, content: Readable, options: StoreOptions): Promise<FileEntity> {
    const id = uuidv7();
    const key = storageKey(tenantId, id);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) return callback(new FileTooLargeError(options.maxBytes));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    // pipeline() (not pipe()) carries the source's failure into the meter, also for a source
    // that failed before it reached us (a multipart part cut off before the handler ran); the
    // error then reaches us through put().
    pipeline(content, meter, () => undefined);
    try {
      await this.storage.put(key, meter);
    } catch (error) {
      await this.storage.delete(key).catch(() => undefined);
      throw error;
    }
    const row = Object.assign(new FileEntity(), {
      id,
      tenantId,
      kind: options.kind,
      name: safeFileName(options.name),
      contentType: options.contentType ?? 'application/octet-stream',
      size,
      sha256: hash.digest('hex'),
      storageKey: key,
      taskId: options.taskId ?? null,
      createdAt: new Date(),
    });
    try {
      await this.files.insert(row);
    } catch (error) {
      await this.storage.delete(key).catch(() => undefined);
      throw error;
    }
    return row;
  }

  /**
   * Takes the first file part of a multipart request (`file` field) and stores it; other text
   * fields come back too (the cleaning-jobs route reads its rules from one).
   */
  async receiveUpload(tenantId: string, request: FastifyRequest, maxBytes: number, fields: Record<string, string> = {}): Promise<FileEntity> {
    if (!request.isMultipart()) {
      throw new DomainError('unsupported', 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data in a field named "file"');
    }
    // The file and field-count limits are one above ours, so our own checks report an overflow
    // (busboy only drops a field over its limit, and the file part would still be stored); a
    // field value over fieldSize arrives cut short and marked valueTruncated.
    const limits = { fileSize: maxBytes + 1, files: 1, fields: MAX_FORM_FIELDS + 1, fieldSize: MAX_FORM_FIELD_BYTES };
    let fieldCount = 0;
    for await (const part of readableParts(request.parts({ limits }))) {
      if (part.type === 'field') {
        fieldCount += 1;
        if (fieldCount > MAX_FORM_FIELDS) {
          throw new DomainError('too_large', 'TOO_MANY_FIELDS', `A form may hold at most ${MAX_FORM_FIELDS} fields besides the file`);
        }
        if (part.valueTruncated) {
          throw new DomainError('too_large', 'FIELD_TOO_LARGE', `A form field may hold at most ${MAX_FORM_FIELD_BYTES} bytes`, {
            details: [{ field: part.fieldname, message: 'too large' }],
          });
        }
        fields[part.fieldname] = String(part.value);
        continue;
      }
      if (part.fieldname !== 'file') {
        part.file.resume();
        continue;
      }
      // The part may have failed already (a body cut off inside it and fully received before
      // this handler ran): its 'error' was emitted before anyone listened, so take it from the stream.
      let readError: unknown = part.file.errored ?? undefined;
      part.file.once('error', (error) => (readError = error));
      return this.store(tenantId, part.file, { name: part.filename, contentType: part.mimetype, kind: 'upload', maxBytes }).catch((error: unknown) => {
        throw error === readError ? unreadableMultipart(error) : error;
      });
    }
    throw DomainError.invalid('VALIDATION_FAILED', 'No file in the request', [{ field: 'file', message: 'a multipart part named "file" is required' }]);
  }

  storeBuffer(tenantId: string, content: Buffer, options: StoreOptions): Promise<FileEntity> {
    return this.store(tenantId, Readable.from([content]), options);
  }

  /** Sets a stored file's display name and type (e.g. once its format is known). */
  async rename(file: FileEntity, name: string, contentType: string): Promise<void> {
    file.name = safeFileName(name);
    file.contentType = contentType;
    await this.files.update({ id: file.id }, { name: file.name, contentType });
  }

  findOne(tenantId: string, id: string): Promise<FileEntity | null> {
    return this.files.findOneBy({ tenantId, id });
  }

  open(file: FileEntity): Promise<Readable> {
    return this.storage.get(file.storageKey);
  }

  /** Files produced by these tasks (cleaned output, rejects, report). */
  findForTasks(taskIds: string[]): Promise<FileEntity[]> {
    return taskIds.length === 0 ? Promise.resolve([]) : this.files.findBy({ taskId: In(taskIds) });
  }

  /** Uploads older than `cutoff`, oldest first (they belong to no task, so they age out on their own). */
  findUploadsBefore(cutoff: Date, limit: number): Promise<FileEntity[]> {
    return this.files.find({ where: { kind: 'upload', createdAt: LessThan(cutoff) }, order: { createdAt: 'ASC' }, take: limit });
  }

  /** Removes files (bytes first, then metadata), e.g. a task's outputs at retention time. */
  async remove(files: FileEntity[]): Promise<void> {
    for (const file of files) {
      await this.storage.delete(file.storageKey).catch((error: unknown) => this.logger.warn({ err: error, fileId: file.id }, 'could not delete file bytes'));
    }
    if (files.length > 0) await this.files.delete(files.map((file) => file.id));
  }
}
