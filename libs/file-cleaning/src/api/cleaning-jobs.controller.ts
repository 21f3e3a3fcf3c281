import { Controller, HttpStatus, Post, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toFileView } from '@conveyor/files';
import { CurrentTenant, RequireScopes } from '@conveyor/http';
import { PIPELINE_ERRORS, PipelineStepDto, toTaskView } from '@conveyor/tasks/api';
import { CLEANING_JOB_BODY, CleaningJobView } from './cleaning-job.dto';
import { CleaningJobs } from './cleaning-jobs.service';

/**
 * One call for curl users: upload the file and start `file.clean` on it, and optionally the
 * steps to run on its output once it completes (`then`).
 *   curl -F 'rules={"trimWhitespace":true}' -F 'then=[{"type":"file.checksum"}]' -F file=@dirty.csv …/v1/cleaning-jobs
 * Text fields must come before the `file` part, as curl sends them in the order given. A JSON
 * body does the same for a file uploaded before: `{fileId, rules?, …, then?}`.
 */
@Controller('v1/cleaning-jobs')
export class CleaningJobsController {
  constructor(private readonly jobs: CleaningJobs) {}

  @Post()
  @RequireScopes('tasks:write')
  @ApiExtraModels(PipelineStepDto)
  @ApiOperation({ requestBody: CLEANING_JOB_BODY })
  @ApiResponse({
    status: 202,
    type: CleaningJobView,
    description: 'The file.clean task is accepted (with its `then` steps in `task.pipeline`); `file` is the file it cleans',
  })
  @ApiResponse({
    status: 400,
    description: `Refused, nothing stored: INVALID_RULES, RULES_TOO_COMPLEX, VALIDATION_FAILED, or a refused pipeline: ${Object.values(PIPELINE_ERRORS).join(', ')}`,
  })
  @ApiResponse({ status: 404, description: 'FILE_NOT_FOUND: (JSON) no such uploaded file in the caller’s tenant' })
  @ApiOperation({ operationId: 'createCleaningJob' })
  async create(@CurrentTenant() tenantId: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const { task, file } = request.isMultipart() ? await this.jobs.fromUpload(tenantId, request) : await this.jobs.fromStoredFile(tenantId, request.body);
    void reply.status(HttpStatus.ACCEPTED).header('location', `/v1/tasks/${task.id}`);
    return { task: toTaskView(task), file: toFileView(file) };
  }
}
