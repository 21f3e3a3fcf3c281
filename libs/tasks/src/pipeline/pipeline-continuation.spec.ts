import { IsObject, IsOptional, IsString, IsUUID } from 'class-validator';
import { TaskFailure } from '../contracts/task-failure';
import { defineTaskType } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { inputAfter, nextPipelineStep, stepPayload } from './pipeline-continuation';

class SourcePayload {}
class ExportPayload {
  @IsUUID()
  fileId: string;

  @IsString()
  format: string;
}
class AnnouncePayload {
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

const SOURCE = defineTaskType<SourcePayload, { outputId: string; rows: number }>({
  type: 'spec.source',
  queue: 'spec',
  description: 'hands on a file',
  payload: SourcePayload,
  pipeline: { handsOn: { fileId: (result) => result.outputId, rows: (result) => result.rows } },
});
const EXPORT = defineTaskType<ExportPayload, { url: string; fileId?: string }>({
  type: 'spec.export',
  queue: 'spec',
  description: 'a step that takes a file and hands on a link',
  payload: ExportPayload,
  pipeline: { takes: { fileId: 'fileId' }, handsOn: { url: (result) => result.url, fileId: (result) => result.fileId } },
});
const ANNOUNCE = defineTaskType<AnnouncePayload, unknown>({
  type: 'spec.announce',
  queue: 'spec',
  description: 'a step that takes everything',
  payload: AnnouncePayload,
  pipeline: { takes: { data: '*' } },
});

const FILE_A = '01936f7c-0000-7000-8000-00000000000a';
const FILE_B = '01936f7c-0000-7000-8000-00000000000b';

describe('pipeline continuation', () => {
  const registry = new TaskTypeRegistry();
  registry.register([SOURCE, EXPORT, ANNOUNCE]);

  it('hands the first step the source output, merged into its own payload, and carries the rest', () => {
    const pipeline = {
      input: {},
      steps: [
        { type: 'spec.export', payload: { format: 'csv' }, priority: 2, tags: ['nightly'] },
        { type: 'spec.announce', payload: {} },
      ],
    };
    const next = nextPipelineStep(pipeline, SOURCE, { outputId: FILE_A, rows: 7 }, registry)!;
    expect(next.definition).toBe(EXPORT);
    expect(next.payload).toEqual({ format: 'csv', fileId: FILE_A });
    expect(next.options).toEqual({ priority: 2, tags: ['nightly'] });
    expect(next.pipeline).toEqual({ input: { fileId: FILE_A, rows: 7 }, steps: [{ type: 'spec.announce', payload: {} }] });
  });

  it('adds each step’s values to the input; a key given again takes the latest value', () => {
    const afterExport = nextPipelineStep(
      { input: { fileId: FILE_A, rows: 7 }, steps: [{ type: 'spec.announce' }] },
      EXPORT,
      { url: 'https://example.test/x', fileId: FILE_B },
      registry,
    )!;
    expect(afterExport.payload).toEqual({ data: { fileId: FILE_B, rows: 7, url: 'https://example.test/x' } });
    expect(afterExport.pipeline.steps).toEqual([]);
  });

  it('leaves out values a result does not have', () => {
    expect(inputAfter(EXPORT, { url: 'u' }, { fileId: FILE_A })).toEqual({ fileId: FILE_A, url: 'u' });
    expect(stepPayload(EXPORT, { format: 'csv' }, {})).toEqual({ format: 'csv' });
  });

  it('has nothing to do outside a pipeline or after its last step', () => {
    expect(nextPipelineStep(undefined, SOURCE, {}, registry)).toBeUndefined();
    expect(nextPipelineStep(null, SOURCE, {}, registry)).toBeUndefined();
    expect(nextPipelineStep({ input: { a: 1 }, steps: [] }, ANNOUNCE, {}, registry)).toBeUndefined();
  });

  it('fails the task for good when the next step is a type this process does not know', () => {
    const attempt = () => nextPipelineStep({ input: {}, steps: [{ type: 'spec.gone' }] }, SOURCE, { outputId: FILE_A, rows: 1 }, registry);
    expect(attempt).toThrow(TaskFailure);
    expect(attempt).toThrow(/spec\.gone/);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_FOLLOW_UP', retryable: false });
    }
  });
});
