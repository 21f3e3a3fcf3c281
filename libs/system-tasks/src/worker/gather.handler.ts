import { HandlesTask, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { SYSTEM_GATHER, type GatherPayload, type GatherResult } from '../system-tasks.contract';

@HandlesTask(SYSTEM_GATHER)
export class GatherHandler implements TaskHandler<GatherPayload, GatherResult> {
  async handle(_payload: GatherPayload, context: TaskContext): Promise<GatherResult> {
    const children = (await context.children()).map(({ id, type, status, result, error }) => ({ id, type, status, result, error }));
    const completed = children.filter((child) => child.status === 'completed').length;
    return { children, completed, failed: children.length - completed };
  }
}
