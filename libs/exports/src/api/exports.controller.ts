import { Body, Controller, Get, Headers, HttpStatus, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiExtension, ApiOperation, ApiProduces, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '@conveyor/errors';
import { contentDisposition } from '@conveyor/files/api';
import { CurrentTenant, Public, RequireScopes } from '@conveyor/http';
import { ExportCreatePayload } from '../exports.contract';
import { DownloadLinkQuery } from './download-link.query';
import { ExportCancelledView, ExportView } from './export-view.dto';
import { ExportsService } from './exports.service';

const ExportId = () => Param('id', new ParseUUIDPipe({ exceptionFactory: () => DomainError.notFound('EXPORT_NOT_FOUND', 'No such export') }));

/** The base of links this API hands out, as the client reached it. */
const baseUrlOf = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

@Controller('v1/exports')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Post()
  @RequireScopes('tasks:write')
  @ApiBody({ schema: { $ref: '#/components/schemas/Payload_export_create' } })
  @ApiResponse({ status: 202, type: ExportView, description: 'Accepted: the export.create task is queued; `Location` points at the export' })
  @ApiResponse({ status: 200, type: ExportView, description: 'The export created earlier with this Idempotency-Key and body' })
  @ApiResponse({
    status: 400,
    description:
      'VALIDATION_FAILED (unknown source, format or field, filters that do not parse), INVALID_TIME_RANGE, NOT_FOR_SOURCE (filters with source "file", fileId with "tasks"), NOT_CLEANED_OUTPUT (source "file" names an upload, rejects, a report or an export rather than a cleaned output)',
  })
  @ApiResponse({ status: 404, description: 'FILE_NOT_FOUND: source "file" names no file of this tenant' })
  @ApiOperation({ operationId: 'createExport' })
  async create(
    @CurrentTenant() tenantId: string,
    @Body() body: ExportCreatePayload,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExportView> {
    const { task, created } = await this.exports.create(tenantId, body, idempotencyKey);
    void reply.status(created ? HttpStatus.ACCEPTED : HttpStatus.OK).header('location', `/v1/exports/${task.id}`);
    return this.exports.view(tenantId, task.id, baseUrlOf(request));
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: ExportView, description: 'Status, progress, rows, bytes, sha256 and, once completed, a download link that expires' })
  @ApiOperation({ operationId: 'getExport' })
  view(@CurrentTenant() tenantId: string, @ExportId() id: string, @Req() request: FastifyRequest): Promise<ExportView> {
    return this.exports.view(tenantId, id, baseUrlOf(request));
  }

  @Post(':id/cancel')
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 200, type: ExportCancelledView, description: 'Cancelled now (it was waiting)' })
  @ApiResponse({ status: 202, type: ExportCancelledView, description: 'Running: the worker stops the stream and deletes the partial file' })
  @ApiResponse({ status: 409, description: 'TASK_TERMINAL: already finished' })
  @ApiOperation({ operationId: 'cancelExport' })
  async cancel(@CurrentTenant() tenantId: string, @ExportId() id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<ExportCancelledView> {
    const { view, outcome } = await this.exports.cancel(tenantId, id);
    void reply.status(outcome === 'cancelled' ? HttpStatus.OK : HttpStatus.ACCEPTED);
    return { ...view, cancellation: outcome };
  }

  /** The link is the credential (no API key): it names one export of one tenant until its expiry. */
  @Get(':id/download')
  @Public()
  @ApiExtension('x-public', true)
  @ApiProduces('application/octet-stream')
  @ApiResponse({ status: 200, description: 'The file, streamed', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiResponse({ status: 403, description: 'LINK_INVALID (altered or not signed here) or LINK_EXPIRED' })
  @ApiResponse({ status: 410, description: 'EXPORT_EXPIRED: retention has deleted the file' })
  @ApiOperation({ operationId: 'downloadExport' })
  async download(@ExportId() id: string, @Query() query: DownloadLinkQuery, @Res() reply: FastifyReply) {
    const { file, content } = await this.exports.download(id, { ...query });
    return reply
      .header('content-type', file.contentType)
      .header('content-length', String(file.size))
      .header('content-disposition', contentDisposition(file.name))
      .header('x-content-sha256', file.sha256)
      .header('cache-control', 'private, no-store')
      .send(content);
  }
}
