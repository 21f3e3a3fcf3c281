import type { FileEntity } from './file.entity';
import type { FileView } from './file-view.dto';

/** The public JSON shape of a stored file (`GET /v1/files/:id`, and events that name a file). */
export function toFileView(file: FileEntity): FileView {
  return {
    id: file.id,
    name: file.name,
    contentType: file.contentType,
    size: file.size,
    sha256: file.sha256,
    kind: file.kind,
    taskId: file.taskId,
    createdAt: file.createdAt.toISOString(),
  };
}
