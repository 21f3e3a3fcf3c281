import { CronExpressionParser } from 'cron-parser';

/** The fields of a schedule that decide when its ticks fall. */
export interface ScheduleTiming {
  cron: string | null;
  everyMs: number | null;
  /** IANA zone the cron is read in. */
  timezone: string;
  startAt: Date | null;
  endAt: Date | null;
  /** Where an `everyMs` series starts: `startAt`, else the schedule's creation time. */
  anchor: Date;
}

/** Shortest `everyMs` accepted: a tick costs a ledger row, so sub-second series are refused. */
export const MIN_EVERY_MS = 1000;

/** A problem with a cron expression, or null when it is one Conveyor runs (5 or 6 fields). */
export function cronProblem(expression: string, timezone = 'UTC'): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `a cron has 5 fields (minute first) or 6 (second first), not ${fields.length}`;
  try {
    CronExpressionParser.parse(expression, { tz: timezone, currentDate: new Date() }).next();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** True for a zone name the runtime's time-zone database knows (IANA names and "UTC"). */
export function isTimezone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * The schedule's first tick strictly after `after` (epoch ms), or null when none is left
 * before `endAt`. Every process walks the same series from the stored `next_run_at`, so they
 * agree on each tick's nominal time, which is what the ledger's unique key compares.
 *
 * Cron ticks come from cron-parser in the schedule's zone. On a DST change a wall time that
 * does not exist (02:30 on the spring-forward day in Europe/Berlin) fires at the shifted time
 * cron-parser gives (03:30 local), and a wall time that happens twice (02:30 on the fall-back
 * day) fires at its first occurrence only: walking forward from it skips the repeat.
 */
export function tickAfter(timing: ScheduleTiming, after: number): number | null {
  const startAt = timing.startAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  let tick: number;
  if (timing.everyMs) {
    const base = timing.anchor.getTime();
    const from = Math.max(after + 1, startAt);
    tick = base + Math.max(0, Math.ceil((from - base) / timing.everyMs)) * timing.everyMs;
  } else {
    // next() is strictly after currentDate; from startAt - 1 ms so a tick at startAt counts.
    const from = Math.max(after, startAt - 1);
    tick = CronExpressionParser.parse(timing.cron!, { tz: timing.timezone, currentDate: new Date(from) })
      .next()
      .getTime();
  }
  return timing.endAt && tick > timing.endAt.getTime() ? null : tick;
}

/**
 * The ticks from `first` (a tick, normally the stored next_run_at) up to `now`, oldest first,
 * at most `limit` of them; `more` says whether the walk stopped at the limit.
 */
export function ticksDue(timing: ScheduleTiming, first: number, now: number, limit: number): { ticks: number[]; more: boolean } {
  const ticks: number[] = [];
  let tick: number | null = first;
  while (tick !== null && tick <= now) {
    if (ticks.length === limit) return { ticks, more: true };
    ticks.push(tick);
    tick = tickAfter(timing, tick);
  }
  return { ticks, more: false };
}
