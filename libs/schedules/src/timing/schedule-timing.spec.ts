import { cronProblem, isTimezone, tickAfter, ticksDue, type ScheduleTiming } from './schedule-timing';

const at = (iso: string) => new Date(iso).getTime();
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const cron = (expression: string, timezone = 'UTC', extra: Partial<ScheduleTiming> = {}): ScheduleTiming => ({
  cron: expression,
  everyMs: null,
  timezone,
  startAt: null,
  endAt: null,
  anchor: new Date(0),
  ...extra,
});

/** Walks the series the way the runner does: each tick from the one before. */
function walk(timing: ScheduleTiming, fromIso: string, toIso: string): string[] {
  const ticks: string[] = [];
  let tick = tickAfter(timing, at(fromIso));
  while (tick !== null && tick <= at(toIso)) {
    ticks.push(iso(tick)!);
    tick = tickAfter(timing, tick);
  }
  return ticks;
}

describe('schedule timing', () => {
  it('accepts 5- and 6-field crons and refuses others with a reason', () => {
    expect(cronProblem('*/5 * * * *')).toBeNull();
    expect(cronProblem('*/10 * * * * *')).toBeNull();
    expect(cronProblem('* * * *')).toMatch(/5 fields/);
    expect(cronProblem('* * * * * * *')).toMatch(/not 7/);
    expect(cronProblem('61 * * * *')).toMatch(/61/);
    expect(cronProblem('hello world foo bar baz')).not.toBeNull();
  });

  it('knows IANA zones', () => {
    expect(isTimezone('Europe/Berlin')).toBe(true);
    expect(isTimezone('UTC')).toBe(true);
    expect(isTimezone('Mars/Olympus_Mons')).toBe(false);
  });

  it('a daily 02:30 Europe/Berlin fires once on the spring-forward day, at the shifted 03:30 CEST', () => {
    // 29 March 2026: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    expect(walk(cron('30 2 * * *', 'Europe/Berlin'), '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST (02:30 was skipped by the clock)
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('a daily 02:30 Europe/Berlin fires exactly once on the fall-back day, at the first 02:30', () => {
    // 25 October 2026: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
    expect(walk(cron('30 2 * * *', 'Europe/Berlin'), '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // 02:30 CEST; the repeat at 02:30 CET (01:30Z) does not fire
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('everyMs ticks are anchored (at startAt or creation), the same in every process', () => {
    const timing: ScheduleTiming = { cron: null, everyMs: 1000, timezone: 'UTC', startAt: null, endAt: null, anchor: new Date(at('2026-01-01T00:00:00.250Z')) };
    expect(iso(tickAfter(timing, at('2026-01-01T00:00:05.000Z')))).toBe('2026-01-01T00:00:05.250Z');
    expect(iso(tickAfter(timing, at('2026-01-01T00:00:05.250Z')))).toBe('2026-01-01T00:00:06.250Z');
    expect(iso(tickAfter(timing, at('2025-12-31T00:00:00Z')))).toBe('2026-01-01T00:00:00.250Z');
  });

  it('respects startAt and endAt', () => {
    const timing = cron('0 * * * *', 'UTC', { startAt: new Date('2026-01-01T05:00:00Z'), endAt: new Date('2026-01-01T07:00:00Z') });
    expect(iso(tickAfter(timing, at('2026-01-01T00:00:00Z')))).toBe('2026-01-01T05:00:00.000Z');
    expect(iso(tickAfter(timing, at('2026-01-01T06:00:00Z')))).toBe('2026-01-01T07:00:00.000Z');
    expect(tickAfter(timing, at('2026-01-01T07:00:00Z'))).toBeNull();
  });

  it('lists the due ticks oldest first and stops at the limit', () => {
    const timing = cron('* * * * *');
    expect(ticksDue(timing, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:02:30Z'), 10)).toEqual({
      ticks: [at('2026-01-01T00:00:00Z'), at('2026-01-01T00:01:00Z'), at('2026-01-01T00:02:00Z')],
      more: false,
    });
    expect(ticksDue(timing, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:02:30Z'), 2).more).toBe(true);
  });
});
