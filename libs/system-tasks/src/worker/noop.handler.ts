import { HandlesTask, type TaskHandler } from '@conveyor/tasks';
import { SYSTEM_NOOP, type NoopPayload, type NoopResult } from '../system-tasks.contract';

@HandlesTask(SYSTEM_NOOP)
export class NoopHandler implements TaskHandler<NoopPayload, NoopResult> {
  handle(): Promise<NoopResult> {
    return Promise.resolve({ ok: true });
  }
}
