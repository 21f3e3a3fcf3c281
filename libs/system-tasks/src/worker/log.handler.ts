import { HandlesTask, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { SYSTEM_LOG, type LogPayload, type LogResult } from '../system-tasks.contract';

@HandlesTask(SYSTEM_LOG)
export class LogHandler implements TaskHandler<LogPayload, LogResult> {
  handle(payload: LogPayload, context: TaskContext): Promise<LogResult> {
    const message = payload.message ?? `${context.type} ${context.taskId}`;
    const input = payload.input ?? {};
    context.logger[payload.level ?? 'info']({ input }, message);
    return Promise.resolve({ message, input });
  }
}
