import { TasksApi } from './tasks-api.js';
import { Transport, type TransportOptions } from './transport.js';

export type ConveyorClientOptions = TransportOptions;

/**
 * The Conveyor client: `new ConveyorClient({ url, apiKey })`, then `client.tasks.enqueue(…)`.
 * Needs only a global `fetch` (Node ≥ 20, browsers, Deno, Bun).
 */
export class ConveyorClient {
  readonly tasks: TasksApi;

  constructor(options: ConveyorClientOptions) {
    this.tasks = new TasksApi(new Transport(options));
  }
}
