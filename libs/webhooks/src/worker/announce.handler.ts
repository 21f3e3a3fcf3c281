import { HandlesTask, type TaskHandler } from '@conveyor/tasks';
import { WEBHOOK_ANNOUNCE, type AnnouncePayload, type AnnounceResult } from '../webhooks.contract';

/** Completes with what it announces: the event itself is written with that completion (see WEBHOOK_ANNOUNCE). */
@HandlesTask(WEBHOOK_ANNOUNCE)
export class AnnounceHandler implements TaskHandler<AnnouncePayload, AnnounceResult> {
  handle(payload: AnnouncePayload): Promise<AnnounceResult> {
    return Promise.resolve({ event: WEBHOOK_ANNOUNCE.completedEvent!.type, message: payload.message ?? null, input: payload.input ?? {} });
  }
}
