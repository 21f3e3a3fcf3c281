import { RETRY_JITTER, RETRY_SCHEDULE_MS } from '../webhooks.contract';

/**
 * The wait before attempt `step + 1` of a round (`step` attempts made so far), or null when
 * the round is over and the delivery has failed. `random` is in [0, 1).
 */
export function retryDelayMs(step: number, random: number = Math.random()): number | null {
  if (step < 0 || step >= RETRY_SCHEDULE_MS.length) return null;
  const base = RETRY_SCHEDULE_MS[step];
  return Math.round(base * (1 + RETRY_JITTER * (2 * random - 1)));
}
