/**
 * Compile-time checks of the task contracts, compiled (never run) by `npm run typecheck`, which
 * `npm run lint` (and so CI) runs. Each `@ts-expect-error` marks code the compiler must refuse: if
 * a check is loosened, the directive becomes unused, which is itself an error, and the check fails.
 */
import type { Tasks } from '../api/tasks.service';
import { HandlesTask, type TaskContext } from './task-handler';
import { defineTaskType } from './task-type';

class ResizePayload {
  fileId: string;
  width: number;
}
interface ResizeResult {
  fileId: string;
  bytes: number;
}
const RESIZE = defineTaskType<ResizePayload, ResizeResult>({ type: 'spec.resize', queue: 'spec', description: 'resize', payload: ResizePayload });

/** Exactly the contract's types. */
@HandlesTask(RESIZE)
export class ResizeHandler {
  handle(payload: ResizePayload): Promise<ResizeResult> {
    return Promise.resolve({ fileId: payload.fileId, bytes: payload.width });
  }
}

/** A wider payload (it takes more than the contract sends) and a narrower result are fine. */
@HandlesTask(RESIZE)
export class LenientResizeHandler {
  handle(payload: { fileId: string }, context: TaskContext): Promise<ResizeResult & { note: string }> {
    return Promise.resolve({ fileId: payload.fileId, bytes: context.attempt, note: 'ok' });
  }
}

/** A handler that ignores its payload still satisfies the contract. */
@HandlesTask(RESIZE)
export class NoArgumentsHandler {
  handle(): Promise<ResizeResult> {
    return Promise.resolve({ fileId: 'f', bytes: 0 });
  }
}

// @ts-expect-error the handler expects a field the contract's payload does not have
@HandlesTask(RESIZE)
export class WrongPayloadHandler {
  handle(payload: ResizePayload & { height: number }): Promise<ResizeResult> {
    return Promise.resolve({ fileId: payload.fileId, bytes: payload.height });
  }
}

// @ts-expect-error the payload field has another type than in the contract
@HandlesTask(RESIZE)
export class WrongFieldTypeHandler {
  handle(payload: { width: string }): Promise<ResizeResult> {
    return Promise.resolve({ fileId: payload.width, bytes: 0 });
  }
}

// @ts-expect-error the result lacks a field of the contract's result
@HandlesTask(RESIZE)
export class WrongResultHandler {
  handle(payload: ResizePayload): Promise<{ fileId: string }> {
    return Promise.resolve({ fileId: payload.fileId });
  }
}

// @ts-expect-error handle must return a promise of the result
@HandlesTask(RESIZE)
export class SyncResultHandler {
  handle(payload: ResizePayload): ResizeResult {
    return { fileId: payload.fileId, bytes: 1 };
  }
}

// @ts-expect-error a class without handle is no handler
@HandlesTask(RESIZE)
export class NotAHandler {
  run(): Promise<ResizeResult> {
    return Promise.resolve({ fileId: 'f', bytes: 0 });
  }
}

/** The typed producer takes exactly the definition's payload type. */
export async function enqueueResizes(tasks: Tasks): Promise<void> {
  await tasks.enqueue(RESIZE, { fileId: 'f', width: 10 }, { tenantId: 't', priority: 2 });
  // @ts-expect-error a field of the payload is missing
  await tasks.enqueue(RESIZE, { fileId: 'f' }, { tenantId: 't' });
  // @ts-expect-error a field has the wrong type
  await tasks.enqueue(RESIZE, { fileId: 'f', width: '10' }, { tenantId: 't' });
  // @ts-expect-error a field the contract does not declare
  await tasks.enqueue(RESIZE, { fileId: 'f', width: 10, height: 5 }, { tenantId: 't' });
  // @ts-expect-error the tenant is required
  await tasks.enqueue(RESIZE, { fileId: 'f', width: 10 }, {});
}
