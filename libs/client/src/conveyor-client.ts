import { FilesApi } from './files-api.js';
import { FlowsApi } from './flows-api.js';
import { QueuesApi } from './queues-api.js';
import { SchedulesApi } from './schedules-api.js';
import { TasksApi } from './tasks-api.js';
import { Transport, type TransportOptions } from './transport.js';

export type ConveyorClientOptions = TransportOptions;

/**
 * The Conveyor client: `new ConveyorClient({ url, apiKey })`, then `client.tasks.enqueue(…)`,
 * `client.flows`, `client.schedules`, `client.files`, `client.queues`.
 * Needs only a global `fetch` (Node ≥ 20, browsers, Deno, Bun).
 */
export class ConveyorClient {
  readonly tasks: TasksApi;
  readonly flows: FlowsApi;
  readonly schedules: SchedulesApi;
  readonly files: FilesApi;
  readonly queues: QueuesApi;

  constructor(options: ConveyorClientOptions) {
    const transport = new Transport(options);
    this.tasks = new TasksApi(transport);
    this.flows = new FlowsApi(transport);
    this.schedules = new SchedulesApi(transport);
    this.files = new FilesApi(transport);
    this.queues = new QueuesApi(transport);
  }
}
