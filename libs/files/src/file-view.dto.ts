import { ApiProperty } from '@nestjs/swagger';
import { FILE_KINDS, type FileKind } from './file.entity';

/** A stored file as the API shows it (`toFileView` is typed by it). */
export class FileView {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ example: 'customers.csv' })
  name: string;
  @ApiProperty({ example: 'text/csv' })
  contentType: string;
  /** Bytes. */
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  @ApiProperty({ enum: FILE_KINDS })
  kind: FileKind;
  /** The task that wrote it; null for an upload. */
  taskId: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

/** `POST /v1/files`: one file in the multipart field `file`. */
export class FileUploadForm {
  @ApiProperty({ type: 'string', format: 'binary' })
  file: unknown;
}
