import 'reflect-metadata';
import { IsIn, IsInt, IsObject, IsOptional, IsUUID, Max } from 'class-validator';
import type { AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { defineTaskType } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { TaskFactory } from '../intake/task-factory';
import { MAX_PIPELINE_STEPS } from '../pipeline/pipeline';
import { PipelinePlanner } from './pipeline-planner.service';

class CleanPayload {}
class ExportPayload {
  @IsUUID()
  fileId: string;

  @IsIn(['csv', 'jsonl'])
  format: string;
}
class LogPayload {
  @IsOptional()
  @IsObject()
  input?: Record<string, unknown>;

  @IsOptional()
  @IsInt()
  @Max(3)
  level?: number;
}
class LinkPayload {
  @IsUUID()
  exportId: string;
}

const CLEAN = defineTaskType({
  type: 'spec.clean',
  queue: 'spec',
  description: 'the first task',
  payload: CleanPayload,
  pipeline: { handsOn: { fileId: () => 'x', summary: () => ({}) } },
});
const EXPORT = defineTaskType({
  type: 'spec.export',
  queue: 'spec',
  description: 'takes a file, hands on an export',
  payload: ExportPayload,
  pipeline: { takes: { fileId: 'fileId' }, handsOn: { exportId: () => 'e' } },
});
const LOG = defineTaskType({ type: 'spec.log', queue: 'spec', description: 'takes everything', payload: LogPayload, pipeline: { takes: { input: '*' } } });
const LINK = defineTaskType({
  type: 'spec.link',
  queue: 'spec',
  description: 'needs an export',
  payload: LinkPayload,
  pipeline: { takes: { exportId: 'exportId' } },
});
const PLAIN = defineTaskType({ type: 'spec.plain', queue: 'spec', description: 'no pipeline step', payload: CleanPayload });

const config = {
  tasks: { maxAttempts: 3, timeoutMs: 60_000 },
  limits: { json: { maxDepth: 64, maxKeys: 1000, maxArrayLength: 10_000, maxNodes: 100_000 } },
} as unknown as AppConfig;

describe('PipelinePlanner', () => {
  const registry = new TaskTypeRegistry();
  registry.register([CLEAN, EXPORT, LOG, LINK, PLAIN]);
  const planner = new PipelinePlanner(config, registry, new TaskFactory(config, registry));
  const plan = (then: unknown) => planner.plan('tenant-a', CLEAN, then);
  const refusal = async (then: unknown): Promise<DomainError> => {
    const error = await plan(then).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('invalid');
    return error as DomainError;
  };

  it('accepts steps whose inputs come before them and keeps each as asked', async () => {
    const then = [
      { type: 'spec.export', payload: { format: 'csv' }, priority: 2, maxAttempts: 5, tags: ['crm'] },
      { type: 'spec.link', delayMs: 1000 },
      { type: 'spec.log' },
    ];
    await expect(plan(then)).resolves.toEqual({ input: {}, steps: then });
  });

  it('treats an absent or empty then as no pipeline', async () => {
    await expect(plan(undefined)).resolves.toBeUndefined();
    await expect(plan(null)).resolves.toBeUndefined();
    await expect(plan([])).resolves.toBeUndefined();
  });

  it('refuses an unknown step type with UNKNOWN_PIPELINE_STEP, naming the step types there are', async () => {
    const error = await refusal([{ type: 'spec.log' }, { type: 'spec.nope' }]);
    expect(error.code).toBe('UNKNOWN_PIPELINE_STEP');
    expect(error.details).toEqual([
      { field: 'then[1].type', code: 'UNKNOWN_PIPELINE_STEP', message: expect.stringContaining('spec.export, spec.link, spec.log') },
    ]);
  });

  it('refuses a type that is no pipeline step, and one whose input nothing before it hands on, with PIPELINE_STEP_NOT_ALLOWED', async () => {
    const plain = await refusal([{ type: 'spec.plain' }]);
    expect(plain.code).toBe('PIPELINE_STEP_NOT_ALLOWED');
    expect(plain.details).toEqual([{ field: 'then[0].type', code: 'PIPELINE_STEP_NOT_ALLOWED', message: expect.stringContaining('not a pipeline step') }]);

    // spec.link needs an exportId: only spec.export hands one on, and it is not before it here.
    const early = await refusal([{ type: 'spec.link' }, { type: 'spec.export', payload: { format: 'csv' } }]);
    expect(early.code).toBe('PIPELINE_STEP_NOT_ALLOWED');
    expect(early.details).toEqual([{ field: 'then[0].type', code: 'PIPELINE_STEP_NOT_ALLOWED', message: expect.stringContaining('needs exportId') }]);
  });

  it('checks each payload against its contract, leaving out the fields the pipeline fills', async () => {
    const error = await refusal([
      { type: 'spec.export', payload: { format: 'xml' } },
      { type: 'spec.log', payload: { level: 9, extra: true } },
    ]);
    expect(error.code).toBe('INVALID_PIPELINE_STEP');
    const fields = error.details!.map((detail) => detail.field);
    // fileId is missing from the first payload, but the pipeline fills it: not a problem.
    expect(fields.sort()).toEqual(['then[0].payload.format', 'then[1].payload.extra', 'then[1].payload.level']);
    expect(error.details!.every((detail) => detail.code === 'INVALID_PIPELINE_STEP')).toBe(true);
  });

  it('reports each problem where it is: a step with a bad payload still hands on to the steps after it', async () => {
    const error = await refusal([{ type: 'spec.export', payload: { format: 'xml' } }, { type: 'spec.link' }]);
    expect(error.details!.map((detail) => [detail.field, detail.code])).toEqual([['then[0].payload.format', 'INVALID_PIPELINE_STEP']]);
  });

  it('refuses a payload that sets a field the pipeline fills', async () => {
    const error = await refusal([{ type: 'spec.export', payload: { fileId: '01936f7c-0000-7000-8000-000000000001', format: 'csv' } }]);
    expect(error.code).toBe('INVALID_PIPELINE_STEP');
    expect(error.details).toEqual([
      { field: 'then[0].payload.fileId', code: 'INVALID_PIPELINE_STEP', message: expect.stringContaining('filled by the pipeline') },
    ]);
  });

  it('refuses malformed steps and options: not an object, unknown fields, a payload that is no object, an idempotency key, both delays', async () => {
    const error = await refusal([
      'spec.log',
      { type: 'spec.log', retries: 3 },
      { type: 'spec.log', payload: [1] },
      { type: 'spec.log', idempotencyKey: 'mine' },
      { type: 'spec.log', priority: 11 },
      { type: 'spec.log', delayMs: 10, runAt: '2030-01-01T00:00:00Z' },
    ]);
    expect(error.code).toBe('INVALID_PIPELINE_STEP');
    expect(error.details!.map((detail) => detail.field)).toEqual([
      'then[0]',
      'then[1].retries',
      'then[2].payload',
      'then[3].idempotencyKey',
      'then[4].priority',
      'then[5].runAt',
    ]);
  });

  it('names the first problem in the code and lists every problem', async () => {
    const error = await refusal([{ type: 'spec.export', payload: { format: 'xml' } }, { type: 'spec.nope' }]);
    expect(error.code).toBe('INVALID_PIPELINE_STEP');
    expect(error.details!.map((detail) => detail.code)).toEqual(['INVALID_PIPELINE_STEP', 'UNKNOWN_PIPELINE_STEP']);
  });

  it(`refuses more than ${MAX_PIPELINE_STEPS} steps with PIPELINE_TOO_LONG, and a then that is no list`, async () => {
    const long = await refusal(Array.from({ length: MAX_PIPELINE_STEPS + 1 }, () => ({ type: 'spec.log' })));
    expect(long.code).toBe('PIPELINE_TOO_LONG');
    await expect(plan(Array.from({ length: MAX_PIPELINE_STEPS }, () => ({ type: 'spec.log' })))).resolves.toBeDefined();

    const notList = await refusal({ type: 'spec.log' });
    expect(notList.code).toBe('INVALID_PIPELINE_STEP');
    expect(notList.details).toEqual([expect.objectContaining({ field: 'then' })]);
  });

  it('refuses input no layer can store before looking at it (a NUL character)', async () => {
    const error = await refusal([{ type: 'spec.log', tags: ['a\u0000b'] }]);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([expect.objectContaining({ field: 'then[0].tags[0]' })]);
  });
});
