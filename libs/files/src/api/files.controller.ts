import { Controller, Get, HttpCode, HttpStatus, Inject, Param, ParseUUIDPipe, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiProduces, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { CurrentTenant, RequireScopes } from '@conveyor/http';
import { toFileView } from '../file-view';
import { FileUploadForm, FileView } from '../file-view.dto';
import { FilesService } from '../files.service';

const notFound = () => DomainError.notFound('FILE_NOT_FOUND', 'No such file');
const FileId = () => Param('id', new ParseUUIDPipe({ exceptionFactory: notFound }));

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * Uploads are streamed from the multipart body straight to storage (never buffered whole),
 * hashed on the way; downloads stream back with their type and name.
 */
@Controller('v1/files')
export class FilesController {
  constructor(
    private readonly files: FilesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.CREATED)
  @ApiResponse({ status: 413, description: 'FILE_TOO_LARGE: over MAX_UPLOAD_BYTES; nothing is stored' })
  @ApiOperation({ operationId: 'uploadFile', summary: 'Upload a file (streamed, hashed on the way)' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: FileUploadForm })
  @ApiResponse({ status: 201, type: FileView })
  async upload(@CurrentTenant() tenantId: string, @Req() request: FastifyRequest) {
    const file = await this.files.receiveUpload(tenantId, request, this.config.maxUploadBytes);
    return toFileView(file);
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiOperation({ operationId: 'getFile' })
  @ApiResponse({ status: 200, type: FileView })
  async metadata(@CurrentTenant() tenantId: string, @FileId() id: string) {
    const file = await this.files.findOne(tenantId, id);
    if (!file) throw notFound();
    return toFileView(file);
  }

  @Get(':id/content')
  @RequireScopes('tasks:read')
  @ApiOperation({ operationId: 'downloadFile' })
  @ApiProduces('application/octet-stream')
  @ApiResponse({
    status: 200,
    description: 'The content, with its type, name and `X-Content-SHA256`',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  async content(@CurrentTenant() tenantId: string, @FileId() id: string, @Res() reply: FastifyReply) {
    const file = await this.files.findOne(tenantId, id);
    if (!file) throw notFound();
    const stream = await this.files.open(file);
    return reply
      .header('content-type', file.contentType)
      .header('content-length', String(file.size))
      .header('content-disposition', contentDisposition(file.name))
      .header('x-content-sha256', file.sha256)
      .send(stream);
  }
}
