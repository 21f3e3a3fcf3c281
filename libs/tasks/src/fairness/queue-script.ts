import type { Queue } from 'bullmq';

type ScriptClient = Awaited<ReturnType<Queue['getBackend']>['client']>;

/** A queue or a worker: anything with the queue's keys and its Redis client. */
export type QueueHandle = Pick<Queue, 'getBackend' | 'toKey' | 'keys'>;

/** A Lua script run on a queue's own Redis client (EVALSHA, loaded once per client). */
export class QueueScript {
  private readonly defined = new WeakSet<object>();

  constructor(
    private readonly name: string,
    private readonly lua: string,
    private readonly numberOfKeys: number,
  ) {}

  async run(queue: QueueHandle, args: Array<string | number>): Promise<unknown> {
    const client: ScriptClient = await queue.getBackend().client;
    if (!this.defined.has(client)) {
      client.defineCommand(this.name, { numberOfKeys: this.numberOfKeys, lua: this.lua });
      this.defined.add(client);
    }
    return client.runCommand(this.name, args);
  }
}
