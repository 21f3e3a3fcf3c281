import { ReplyError } from 'ioredis';

/**
 * What became of a Redis write that did not succeed:
 * - `refused`: Redis never ran it. ioredis refused to send it (no connection and the producer's
 *   offline queue is off), or Redis answered with an error (a script that errs, OOM, READONLY,
 *   LOADING refuse before they write).
 * - `unknown`: it was sent and no answer came: a timeout, or the connection dropped after the
 *   command went out. It may still run when Redis gets to it, seconds or minutes later.
 *
 * The difference decides what a producer may answer: only a `refused` write can be reported
 * as "not done" with certainty.
 */
export type RedisFailure = 'refused' | 'unknown';

/** ioredis's message for a command it did not send because the connection is not up. */
const NOT_SENT = /enableOfflineQueue options is false/;

export function redisFailureOf(error: unknown): RedisFailure {
  if (error instanceof ReplyError) return 'refused';
  return error instanceof Error && NOT_SENT.test(error.message) ? 'refused' : 'unknown';
}

/**
 * The same for a pipeline of several commands (BullMQ's addBulk): Redis runs each on its own,
 * so an error answer to one of them says nothing of the others, which may have run. Only a
 * pipeline ioredis never sent is refused as a whole.
 */
export function pipelineFailureOf(error: unknown): RedisFailure {
  return error instanceof ReplyError ? 'unknown' : redisFailureOf(error);
}
