import { getSchemaPath } from '@nestjs/swagger';
import { PipelineStepDto } from '@conveyor/tasks/api';

/** The multipart form of `POST /v1/cleaning-jobs`, for the OpenAPI document (the route reads the parts itself). */
export const CLEANING_JOB_FORM = {
  description:
    'Text fields first, then the file. `rules`, `output` and `then` are JSON text; `then` lists the steps to run, in order, on the cleaned output once file.clean completes.',
  required: true,
  schema: {
    type: 'object',
    required: ['file'],
    properties: {
      rules: { type: 'object', description: 'The cleaning rules (see the file.clean payload)' },
      format: { type: 'string', enum: ['csv', 'tsv', 'jsonl'] },
      delimiter: { type: 'string' },
      encoding: { type: 'string', enum: ['utf-8', 'utf-8-bom', 'latin1'] },
      output: { type: 'object', properties: { format: { type: 'string', enum: ['csv', 'tsv', 'jsonl'] } } },
      then: {
        type: 'array',
        maxItems: 10,
        items: { $ref: getSchemaPath(PipelineStepDto) },
        description:
          'Pipeline steps: task types declared as steps (GET /v1/task-types: `pipeline.step`). Each runs as a follow-up of the one before, handed the cleaning output (fileId of the cleaned file, rejectsFileId, reportFileId, summary) and what each earlier step added',
      },
      file: { type: 'string', format: 'binary' },
    },
  },
  encoding: { rules: { contentType: 'application/json' }, output: { contentType: 'application/json' }, then: { contentType: 'application/json' } },
};

/** The pipeline a task carries: the input it was handed and the steps after it. */
export class TaskPipelineView {
  input: Record<string, unknown>;
  steps: PipelineStepDto[];
}

/** The accepted file.clean task (the full task view, as `GET /v1/tasks/:id` shows it). */
export class CleaningJobTaskView {
  id: string;
  type: string;
  queue: string;
  status: string;
  payload: Record<string, unknown>;
  createdAt: string;
  /** The `then` steps it starts once it completes; null without `then`. */
  pipeline: TaskPipelineView | null;
}

/** The stored upload. */
export class CleaningJobFileView {
  id: string;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  kind: string;
  createdAt: string;
}

export class CleaningJobView {
  task: CleaningJobTaskView;
  file: CleaningJobFileView;
}
