import { createHash } from 'node:crypto';
import { FilesService } from '@conveyor/files';
import { HandlesTask, TaskFailure, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { FILE_CHECKSUM, type FileChecksumPayload, type FileChecksumResult } from '../file-cleaning.contract';

const NEWLINE = 0x0a;

/** Streams the stored bytes once (hash, size, line breaks) and compares them with the file's record. */
@HandlesTask(FILE_CHECKSUM)
export class FileChecksumHandler implements TaskHandler<FileChecksumPayload, FileChecksumResult> {
  constructor(private readonly files: FilesService) {}

  async handle(payload: FileChecksumPayload, context: TaskContext): Promise<FileChecksumResult> {
    const file = await this.files.findOne(context.tenantId, payload.fileId);
    if (!file) throw new TaskFailure('FILE_NOT_FOUND', `no file ${payload.fileId} in this tenant`, false);
    const hash = createHash('sha256');
    let bytes = 0;
    let lines = 0;
    const content = await this.files.open(file);
    try {
      for await (const chunk of content as AsyncIterable<Buffer>) {
        context.signal.throwIfAborted();
        hash.update(chunk);
        bytes += chunk.length;
        for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) lines += 1;
        if (file.size > 0) context.progress((bytes / file.size) * 100);
      }
    } finally {
      content.destroy();
    }
    const sha256 = hash.digest('hex');
    if (bytes !== file.size || sha256 !== file.sha256) {
      throw new TaskFailure('CHECKSUM_MISMATCH', `stored ${file.size} bytes with sha256 ${file.sha256}, read back ${bytes} bytes with sha256 ${sha256}`);
    }
    return { fileId: file.id, name: file.name, bytes, sha256, lines };
  }
}
