import type { TaskTypes } from './task-types.gen.js';
import type { Transport } from './transport.js';
import type { TaskView } from './types.js';

/** A stored file: an upload, or an output a task wrote. */
export interface FileView {
  id: string;
  name: string;
  contentType: string;
  /** Bytes. */
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  kind: string;
  /** The task that wrote it; null for an upload. */
  taskId: string | null;
  createdAt: string;
}

/** What to upload: the bytes (a Blob keeps its type), its name, and its type when the bytes have none. */
export interface UploadInput {
  content: Blob | Uint8Array | string;
  name: string;
  contentType?: string;
}

/** A file's content as the API streams it back. */
export interface FileDownload {
  contentType: string;
  size: number;
  /** As recorded when it was stored; compare it with what you read. */
  sha256: string;
  /** The stream; read it once, or use bytes() / text() instead. */
  body: ReadableStream<Uint8Array>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
}

/** A `then` step of a pipeline: a task type declared as a step, its own payload and options. */
export interface PipelineStep {
  type: string;
  payload?: Record<string, unknown>;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  tags?: string[];
}

/** file.clean's options (its payload but the file), and the steps to run on its output. */
export type CleanOptions = Omit<TaskTypes['file.clean']['payload'], 'fileId'> & { then?: PipelineStep[] };

/** `POST /v1/cleaning-jobs`: the accepted file.clean task and the file it cleans. */
export interface CleaningJob {
  task: TaskView<'file.clean'>;
  file: FileView;
}

const filePath = (id: string) => `/v1/files/${encodeURIComponent(id)}`;

function asBlob({ content, contentType }: UploadInput): Blob {
  if (content instanceof Blob) return contentType && content.type !== contentType ? new Blob([content], { type: contentType }) : content;
  return new Blob([content] as ConstructorParameters<typeof Blob>[0], { type: contentType ?? 'application/octet-stream' });
}

/** `client.files`: upload, read back, and clean CSV/TSV/JSON Lines files. */
export class FilesApi {
  constructor(private readonly transport: Transport) {}

  /** Stored whole or not at all (ConveyorValidationError FILE_TOO_LARGE over the limit). Not retried: a retry would store it twice. */
  async upload(input: UploadInput): Promise<FileView> {
    const form = new FormData();
    form.append('file', asBlob(input), input.name);
    return (await this.transport.request<FileView>('POST', '/v1/files', { form, idempotent: false })).body;
  }

  async get(id: string): Promise<FileView> {
    return (await this.transport.request<FileView>('GET', filePath(id), { idempotent: true })).body;
  }

  async download(id: string, options: { signal?: AbortSignal } = {}): Promise<FileDownload> {
    const response = await this.transport.open(`${filePath(id)}/content`, { accept: '*/*' }, options.signal);
    return {
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      size: Number(response.headers.get('content-length') ?? 0),
      sha256: response.headers.get('x-content-sha256') ?? '',
      body: response.body!,
      bytes: async () => new Uint8Array(await response.arrayBuffer()),
      text: () => response.text(),
    };
  }

  /**
   * Starts `file.clean` on a file uploaded before (`fileId`), or uploads `file` and cleans it
   * in one call. Follow the task with `client.tasks.waitFor(job.task.id)`; its result names the
   * cleaned file, the rejects and the report. Not retried after a network failure (it starts a task).
   */
  async clean(source: { fileId: string } | { file: UploadInput }, options: CleanOptions = {}): Promise<CleaningJob> {
    if ('fileId' in source) {
      return (await this.transport.request<CleaningJob>('POST', '/v1/cleaning-jobs', { body: { fileId: source.fileId, ...options }, idempotent: false })).body;
    }
    // The route reads the text fields before the file, so they go first.
    const form = new FormData();
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined || value === null) continue;
      form.append(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
    }
    form.append('file', asBlob(source.file), source.file.name);
    return (await this.transport.request<CleaningJob>('POST', '/v1/cleaning-jobs', { form, idempotent: false })).body;
  }
}
