/** Where the schedule runner reads the time; tests inject their own to cross days and DST changes. */
export interface Clock {
  now(): number;
}

export const CLOCK = Symbol('conveyor:clock');

export const systemClock: Clock = { now: () => Date.now() };
