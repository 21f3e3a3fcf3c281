import { Controller, HttpStatus, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiExtraModels, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { FilesService } from '@conveyor/files';
import { toFileView } from '@conveyor/files/api';
import { ApiError, CurrentTenant, findUnsafeInput, RequireScopes } from '@conveyor/http';
import { PIPELINE_ERRORS, PipelinePlanner, PipelineStepDto, TaskProducer, toTaskView } from '@conveyor/tasks/api';
import { validateCleaningRules } from '../cleaning/cleaning-rules.dto';
import { FILE_CLEAN } from '../file-cleaning.contract';
import { CLEANING_JOB_FORM, CleaningJobView } from './cleaning-job.dto';

const OPTION_FIELDS = ['format', 'delimiter', 'encoding'] as const;

/**
 * One call for curl users: upload the file and start `file.clean` on it, and optionally the
 * steps to run on its output once it completes (`then`, see PipelinePlanner).
 *   curl -F 'rules={"trimWhitespace":true}' -F 'then=[{"type":"file.checksum"}]' -F file=@dirty.csv …/v1/cleaning-jobs
 * Text fields (`rules`, `output` and `then` as JSON, `format`, `delimiter`, `encoding`) must
 * come before the `file` part, as curl sends them in the order given.
 */
@Controller('v1/cleaning-jobs')
export class CleaningJobsController {
  constructor(
    private readonly files: FilesService,
    private readonly producer: TaskProducer,
    private readonly pipelines: PipelinePlanner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @RequireScopes('tasks:write')
  @ApiConsumes('multipart/form-data')
  @ApiExtraModels(PipelineStepDto)
  @ApiBody(CLEANING_JOB_FORM)
  @ApiResponse({
    status: 202,
    type: CleaningJobView,
    description: 'The file is stored and the file.clean task accepted (with its `then` steps in `task.pipeline`)',
  })
  @ApiResponse({
    status: 400,
    description: `Refused, nothing stored: INVALID_RULES, RULES_TOO_COMPLEX, VALIDATION_FAILED, or a refused pipeline: ${Object.values(PIPELINE_ERRORS).join(', ')}`,
  })
  async create(@CurrentTenant() tenantId: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const fields: Record<string, string> = {};
    const file = await this.files.receiveUpload(tenantId, request, this.config.maxUploadBytes, fields);
    const payload: Record<string, unknown> = { fileId: file.id };
    try {
      for (const key of OPTION_FIELDS) if (fields[key] !== undefined) payload[key] = fields[key];
      for (const key of ['rules', 'output']) if (fields[key] !== undefined) payload[key] = parseJsonField(key, fields[key], 'a JSON object');
      if (payload.rules !== undefined && Buffer.byteLength(fields.rules) <= FILE_CLEAN.defaults.maxPayloadBytes) checkRules(payload.rules);
      // Checked whole before the task is stored; the cleaning task carries it and starts it on completion.
      const pipeline =
        fields.then === undefined ? undefined : await this.pipelines.plan(tenantId, FILE_CLEAN, parseJsonField('then', fields.then, 'a JSON array of steps'));
      const { tasks } = await this.producer.enqueue(tenantId, [{ type: FILE_CLEAN.type, payload }], pipeline ? { pipeline } : undefined);
      void reply.status(HttpStatus.ACCEPTED).header('location', `/v1/tasks/${tasks[0].id}`);
      return { task: toTaskView(tasks[0]), file: toFileView(file) };
    } catch (error) {
      // The task was not accepted: the upload must not linger unowned.
      await this.files.remove([file]);
      throw error;
    }
  }
}

/**
 * The rules get their own codes here, as this route is the one curl users meet them on:
 * INVALID_RULES (the code a worker would fail the task with) or RULES_TOO_COMPLEX (well-formed,
 * but past a limit of RULE_LIMITS). The task validation that follows checks the same rules.
 * Input no payload may hold (too large, too deep, NUL, lone surrogates) is left to that generic
 * validation, which refuses it before copying anything (PAYLOAD_TOO_LARGE, VALIDATION_FAILED).
 */
function checkRules(rules: unknown): void {
  if (findUnsafeInput(rules)) return;
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw ApiError.badRequest('INVALID_RULES', 'The rules field must be a JSON object', [{ field: 'rules', message: 'must be a JSON object' }]);
  }
  const problems = validateCleaningRules(rules);
  if (problems.length === 0) return;
  const tooComplex = problems.some((problem) => problem.code === 'RULES_TOO_COMPLEX');
  throw ApiError.badRequest(
    tooComplex ? 'RULES_TOO_COMPLEX' : 'INVALID_RULES',
    tooComplex ? 'The cleaning rules exceed a complexity limit' : 'The cleaning rules are invalid',
    problems.map((problem) => ({ field: `rules.${problem.field}`, message: problem.message, ...(problem.code ? { code: problem.code } : {}) })),
  );
}

function parseJsonField(name: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw ApiError.badRequest('VALIDATION_FAILED', `The ${name} field is not valid JSON`, [{ field: name, message: `must be ${expected}` }]);
  }
}
