import { Inject, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError, type DomainErrorDetail } from '@conveyor/errors';
import { findUnsafeInput, flattenValidationErrors, unsafeInputError } from '@conveyor/http';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { TaskFactory } from '../intake/task-factory';
import { inputKeysTaken, MAX_PIPELINE_STEPS, type PipelineStepRequest, type TaskPipeline } from '../pipeline/pipeline';
import { PipelineStepDto } from './pipeline-step.dto';

/** What a field the pipeline fills holds while a step is checked at request time. */
const FILLED_BY_PIPELINE = '<filled by the pipeline>';

/** The codes a refused pipeline answers with (400), one per kind of problem. */
export const PIPELINE_ERRORS = {
  tooLong: 'PIPELINE_TOO_LONG',
  unknownStep: 'UNKNOWN_PIPELINE_STEP',
  stepNotAllowed: 'PIPELINE_STEP_NOT_ALLOWED',
  invalidStep: 'INVALID_PIPELINE_STEP',
} as const;

const isPlainObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks `then` steps, all of them, before anything of the request is stored, and turns them
 * into the pipeline the first task carries. A step must be a known task type that declares
 * itself a pipeline step (`pipeline.takes` in its contract), take only input keys some task
 * before it hands on, leave the fields the pipeline fills to the pipeline, and have a payload
 * and options its contract accepts (the same TaskFactory check the step will meet when it is
 * created). Refusals are 400s whose code names the first problem; every problem is a detail
 * with its own code and field (`then[1].payload.x`).
 */
@Injectable()
export class PipelinePlanner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    private readonly factory: TaskFactory,
  ) {}

  /** The pipeline to run after a task of `first`, or undefined when `then` is absent or empty. */
  async plan(tenantId: string, first: TaskTypeDefinition, then: unknown): Promise<TaskPipeline | undefined> {
    if (then === undefined || then === null) return undefined;
    const unsafe = findUnsafeInput(then, this.config.limits.json);
    if (unsafe) {
      const field = `then${unsafe.field && !unsafe.field.startsWith('[') ? '.' : ''}${unsafe.field ?? ''}`;
      throw unsafeInputError({ ...unsafe, field }, field);
    }
    if (!Array.isArray(then)) {
      throw DomainError.invalid(PIPELINE_ERRORS.invalidStep, 'then must be a list of steps', [
        { field: 'then', message: 'must be an array of {type, payload?, …task options}', code: PIPELINE_ERRORS.invalidStep },
      ]);
    }
    if (then.length === 0) return undefined;
    if (then.length > MAX_PIPELINE_STEPS) {
      throw DomainError.invalid(PIPELINE_ERRORS.tooLong, `A pipeline has at most ${MAX_PIPELINE_STEPS} steps`, [
        { field: 'then', message: `${then.length} steps`, code: PIPELINE_ERRORS.tooLong },
      ]);
    }

    const details: DomainErrorDetail[] = [];
    const steps: PipelineStepRequest[] = [];
    // The input keys handed on so far: by the first task, then by each step before this one.
    const available = new Set(Object.keys(first.pipeline.handsOn ?? {}));
    for (const [index, raw] of then.entries()) {
      const at = `then[${index}]`;
      const problem = (field: string, message: string, code: string) => details.push({ field: `${at}${field}`, message, code });
      const step = await this.checkShape(raw, at);
      if (!step.ok) {
        details.push(...step.details);
        continue;
      }
      const definition = this.registry.get(step.value.type);
      if (!definition) {
        problem('.type', `unknown task type "${step.value.type}"; pipeline steps: ${this.stepTypes().join(', ') || 'none'}`, PIPELINE_ERRORS.unknownStep);
        continue;
      }
      const takes = definition.pipeline.takes;
      if (!takes) {
        problem('.type', `${definition.type} is not a pipeline step; pipeline steps: ${this.stepTypes().join(', ') || 'none'}`, PIPELINE_ERRORS.stepNotAllowed);
        continue;
      }
      const missing = inputKeysTaken(definition.pipeline).filter((key) => !available.has(key));
      // What it hands on counts for the steps after it even if it has problems of its own, so
      // that each problem is reported where it is.
      for (const key of Object.keys(definition.pipeline.handsOn ?? {})) available.add(key);
      if (missing.length > 0) {
        const before = index === 0 ? first.type : `${first.type} and the steps before it`;
        problem('.type', `${definition.type} needs ${missing.join(', ')}, which ${before} do not hand on`, PIPELINE_ERRORS.stepNotAllowed);
        continue;
      }
      const filled = Object.keys(takes);
      const own = step.value.payload ?? {};
      const taken = filled.filter((field) => Object.hasOwn(own, field));
      for (const field of taken) problem(`.payload.${field}`, `filled by the pipeline from the steps before`, PIPELINE_ERRORS.invalidStep);
      if (taken.length > 0) continue;
      const refused = await this.checkContract(tenantId, step.value, filled);
      if (refused.length > 0) {
        details.push(...refused.map((detail) => ({ ...detail, field: `${at}.${detail.field}`, code: detail.code ?? PIPELINE_ERRORS.invalidStep })));
        continue;
      }
      steps.push(step.value);
    }
    if (details.length > 0) {
      throw DomainError.invalid(String(details[0].code), `The pipeline (then) is refused: ${details[0].field}: ${details[0].message}`, details);
    }
    return { input: {}, steps };
  }

  /** The step's own fields by PipelineStepDto (type, payload an object, the task options). */
  private async checkShape(raw: unknown, at: string): Promise<{ ok: true; value: PipelineStepRequest } | { ok: false; details: DomainErrorDetail[] }> {
    if (!isPlainObject(raw))
      return { ok: false, details: [{ field: at, message: 'must be an object {type, payload?, …}', code: PIPELINE_ERRORS.invalidStep }] };
    // The payload is checked by its contract later; class-transformer need not copy it.
    const { payload, ...fields } = raw;
    const errors = await validate(plainToInstance(PipelineStepDto, fields), { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    const details = flattenValidationErrors(errors).map((detail) => ({ ...detail, field: `${at}.${detail.field}`, code: PIPELINE_ERRORS.invalidStep }));
    if (payload !== undefined && !isPlainObject(payload))
      details.push({ field: `${at}.payload`, message: 'must be an object', code: PIPELINE_ERRORS.invalidStep });
    if (details.length > 0) return { ok: false, details };
    return { ok: true, value: { ...(fields as Omit<PipelineStepRequest, 'payload'>), ...(isPlainObject(payload) ? { payload } : {}) } };
  }

  /**
   * The step as TaskFactory will create it. First without the fields the pipeline fills: their
   * problems (a required `fileId` is missing now) are dropped, every other one is kept. Then, if
   * that passes, with placeholders in those fields, for the problems their presence makes
   * (export.create with source "tasks" takes no fileId, and the pipeline would hand it one).
   */
  private async checkContract(tenantId: string, step: PipelineStepRequest, filled: string[]): Promise<DomainErrorDetail[]> {
    const problems = await this.prepareProblems(tenantId, step, filled, {});
    if (problems.length > 0 || filled.length === 0) return problems;
    return this.prepareProblems(tenantId, step, filled, Object.fromEntries(filled.map((field) => [field, FILLED_BY_PIPELINE])));
  }

  private async prepareProblems(
    tenantId: string,
    step: PipelineStepRequest,
    filled: string[],
    placeholders: Record<string, string>,
  ): Promise<DomainErrorDetail[]> {
    try {
      await this.factory.prepare(tenantId, [{ ...step, payload: { ...step.payload, ...placeholders } }]);
      return [];
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const ours = (field: string | undefined) =>
        filled.some((name) => field === `payload.${name}` || field?.startsWith(`payload.${name}.`) || field?.startsWith(`payload.${name}[`));
      const details = (error.details ?? [{ field: 'payload', message: error.message }]).filter((detail) => !ours(detail.field));
      return details.map((detail) => ({
        ...detail,
        field: detail.field ?? 'payload',
        code: detail.code ?? (error.code === 'VALIDATION_FAILED' ? PIPELINE_ERRORS.invalidStep : error.code),
      }));
    }
  }

  private stepTypes(): string[] {
    return this.registry
      .all()
      .filter((definition) => definition.pipeline.takes)
      .map((definition) => definition.type);
  }
}
