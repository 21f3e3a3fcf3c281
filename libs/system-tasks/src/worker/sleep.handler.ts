import { setTimeout as sleep } from 'node:timers/promises';
import { HandlesTask, TaskFailure, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { SYSTEM_NOOP, SYSTEM_SLEEP, type SleepPayload, type SleepResult } from '../system-tasks.contract';

/** Slices short enough that an abort stops the task promptly and progress moves visibly. */
const MAX_SLICE_MS = 100;

@HandlesTask(SYSTEM_SLEEP)
export class SleepHandler implements TaskHandler<SleepPayload, SleepResult> {
  async handle(payload: SleepPayload, context: TaskContext): Promise<SleepResult> {
    if (context.attempt <= (payload.failTimes ?? 0)) {
      context.log.warn(`failing attempt ${context.attempt} on purpose`, { failTimes: payload.failTimes });
      throw new TaskFailure('SLEEP_PLANNED_FAILURE', `planned failure of attempt ${context.attempt}`);
    }
    const started = Date.now();
    let slept = 0;
    while (slept < payload.ms) {
      const slice = Math.min(MAX_SLICE_MS, payload.ms - slept);
      // Rejects with the abort reason as soon as the signal fires.
      await sleep(slice, undefined, { signal: context.signal });
      slept = Date.now() - started;
      context.progress((Math.min(slept, payload.ms) / payload.ms) * 100, `slept ${Math.min(slept, payload.ms)} of ${payload.ms} ms`);
    }
    for (let i = 0; i < (payload.followUps ?? 0); i += 1) await context.enqueue(SYSTEM_NOOP, {});
    return { sleptMs: slept, attempt: context.attempt };
  }
}
