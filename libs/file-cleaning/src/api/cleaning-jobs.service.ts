import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { FilesService, type FileEntity } from '@conveyor/files';
import { findUnsafeInput } from '@conveyor/http';
import type { TaskEntity } from '@conveyor/tasks';
import { PipelinePlanner, TaskProducer } from '@conveyor/tasks/api';
import { validateCleaningRules } from '../cleaning/cleaning-rules.dto';
import { FILE_CLEAN } from '../file-cleaning.contract';

const OPTION_FIELDS = ['format', 'delimiter', 'encoding'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isPlainObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

/** An accepted cleaning job: the file.clean task and the file it cleans. */
export interface CleaningJob {
  task: TaskEntity;
  file: FileEntity;
}

/**
 * Starts `file.clean` on an upload or on a file uploaded before, with the steps to run on its
 * output once it completes (`then`, see PipelinePlanner). Rules and pipeline are checked
 * before the task is stored; a refused upload is removed again.
 */
@Injectable()
export class CleaningJobs {
  constructor(
    private readonly files: FilesService,
    private readonly producer: TaskProducer,
    private readonly pipelines: PipelinePlanner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Multipart: text fields (`rules`, `output` and `then` as JSON, `format`, `delimiter`, `encoding`), then the file. */
  async fromUpload(tenantId: string, request: FastifyRequest): Promise<CleaningJob> {
    const fields: Record<string, string> = {};
    const file = await this.files.receiveUpload(tenantId, request, this.config.maxUploadBytes, fields);
    try {
      const payload: Record<string, unknown> = { fileId: file.id };
      for (const key of OPTION_FIELDS) if (fields[key] !== undefined) payload[key] = fields[key];
      for (const key of ['rules', 'output']) if (fields[key] !== undefined) payload[key] = parseJsonField(key, fields[key], 'a JSON object');
      const then = fields.then === undefined ? undefined : parseJsonField('then', fields.then, 'a JSON array of steps');
      return await this.start(tenantId, file, payload, then);
    } catch (error) {
      // The task was not accepted: the upload must not linger unowned.
      await this.files.remove([file]);
      throw error;
    }
  }

  /** A JSON body: `{fileId, …file.clean options, then?}` for a file uploaded before. */
  async fromStoredFile(tenantId: string, body: unknown): Promise<CleaningJob> {
    if (!isPlainObject(body)) {
      throw new DomainError(
        'unsupported',
        'UNSUPPORTED_MEDIA_TYPE',
        'Send the file as multipart/form-data in a field named "file", or a JSON object naming an uploaded fileId',
      );
    }
    const { then, ...payload } = body;
    if (typeof payload.fileId !== 'string' || !UUID.test(payload.fileId)) {
      throw DomainError.invalid('VALIDATION_FAILED', 'The request is invalid', [{ field: 'fileId', message: 'must be the id of an uploaded file' }]);
    }
    const file = await this.files.findOne(tenantId, payload.fileId);
    if (!file) throw DomainError.notFound('FILE_NOT_FOUND', 'No such file');
    return this.start(tenantId, file, payload, then);
  }

  private async start(tenantId: string, file: FileEntity, payload: Record<string, unknown>, then: unknown): Promise<CleaningJob> {
    if (payload.rules !== undefined) checkRules(payload.rules);
    // Checked whole before the task is stored; the cleaning task carries it and starts it on completion.
    const pipeline = await this.pipelines.plan(tenantId, FILE_CLEAN, then);
    const { tasks } = await this.producer.enqueue(tenantId, [{ type: FILE_CLEAN.type, payload }], pipeline ? { pipeline } : undefined);
    return { task: tasks[0], file };
  }
}

/**
 * The rules get their own codes here, as this route is the one curl users meet them on:
 * INVALID_RULES (the code a worker would fail the task with) or RULES_TOO_COMPLEX (well-formed,
 * but past a limit of RULE_LIMITS). The task validation that follows checks the same rules.
 * Input no payload may hold (too large, too deep, NUL, lone surrogates) is left to that generic
 * validation, which refuses it before copying anything (PAYLOAD_TOO_LARGE, VALIDATION_FAILED), and so
 * are rules over the payload's size cap.
 */
function checkRules(rules: unknown): void {
  if (findUnsafeInput(rules)) return;
  // Within the limits above, so serialising it is safe; over the payload cap is PAYLOAD_TOO_LARGE's to say.
  if (Buffer.byteLength(JSON.stringify(rules)) > FILE_CLEAN.defaults.maxPayloadBytes) return;
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw DomainError.invalid('INVALID_RULES', 'The rules field must be a JSON object', [{ field: 'rules', message: 'must be a JSON object' }]);
  }
  const problems = validateCleaningRules(rules);
  if (problems.length === 0) return;
  const tooComplex = problems.some((problem) => problem.code === 'RULES_TOO_COMPLEX');
  throw DomainError.invalid(
    tooComplex ? 'RULES_TOO_COMPLEX' : 'INVALID_RULES',
    tooComplex ? 'The cleaning rules exceed a complexity limit' : 'The cleaning rules are invalid',
    problems.map((problem) => ({ field: `rules.${problem.field}`, message: problem.message, ...(problem.code ? { code: problem.code } : {}) })),
  );
}

function parseJsonField(name: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw DomainError.invalid('VALIDATION_FAILED', `The ${name} field is not valid JSON`, [{ field: name, message: `must be ${expected}` }]);
  }
}
