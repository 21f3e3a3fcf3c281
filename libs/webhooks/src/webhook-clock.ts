/** Where webhooks read the time (retry waits, due deliveries, auto-disable); tests inject their own. */
export interface Clock {
  now(): number;
}

export const WEBHOOK_CLOCK = Symbol('conveyor:webhook-clock');

export const systemClock: Clock = { now: () => Date.now() };
