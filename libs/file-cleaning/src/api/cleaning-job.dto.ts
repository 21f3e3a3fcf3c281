import { getSchemaPath } from '@nestjs/swagger';
import { PipelineStepDto } from '@conveyor/tasks/api';

const FORMATS = ['csv', 'tsv', 'jsonl'];

/** The fields both bodies share: file.clean's options and the pipeline. */
const OPTIONS = {
  format: { type: 'string', enum: FORMATS },
  delimiter: { type: 'string' },
  encoding: { type: 'string', enum: ['utf-8', 'utf-8-bom', 'latin1'] },
  rules: { type: 'object', description: 'The cleaning rules (see the file.clean payload)' },
  output: { type: 'object', properties: { format: { type: 'string', enum: FORMATS } } },
  then: {
    type: 'array',
    maxItems: 10,
    items: { $ref: getSchemaPath(PipelineStepDto) },
    description:
      'Pipeline steps: task types declared as steps (GET /v1/task-types: `pipeline.step`). Each runs as a follow-up of the one before, handed the cleaning output (fileId of the cleaned file, rejectsFileId, reportFileId, summary) and what each earlier step added',
  },
};

/**
 * The two bodies of `POST /v1/cleaning-jobs`, for the OpenAPI document (the route reads them
 * itself): a multipart form with the file (text fields first; `rules`, `output` and `then` as
 * JSON text), or JSON naming a file uploaded before.
 */
export const CLEANING_JOB_BODY = {
  required: true,
  content: {
    'multipart/form-data': {
      schema: { type: 'object', required: ['file'], properties: { ...OPTIONS, file: { type: 'string', format: 'binary' } } },
      encoding: { rules: { contentType: 'application/json' }, output: { contentType: 'application/json' }, then: { contentType: 'application/json' } },
    },
    'application/json': {
      schema: {
        type: 'object',
        required: ['fileId'],
        additionalProperties: false,
        properties: { fileId: { type: 'string', format: 'uuid', description: 'An uploaded file (POST /v1/files)' }, ...OPTIONS },
      },
    },
  },
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
