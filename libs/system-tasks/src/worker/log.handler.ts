import { HandlesTask, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { SYSTEM_LOG, type LogPayload, type LogResult } from '../system-tasks.contract';

@HandlesTask(SYSTEM_LOG)
export class LogHandler implements TaskHandler<LogPayload, LogResult> {
  handle(payload: LogPayload, context: TaskContext): Promise<LogResult> {
    const message = payload.message ?? `${context.type} ${context.taskId}`;
    const input = payload.input ?? {};
    const repeat = payload.repeat ?? 1;
    const level = payload.level ?? 'info';
    for (let line = 1; line <= repeat; line += 1) context.log[level](message, repeat > 1 ? { input, line } : { input });
    return Promise.resolve({ message, input });
  }
}
