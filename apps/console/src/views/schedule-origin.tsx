import type { Schedule } from '../../../../libs/client/src/index';
import { call, type Session } from '../api';
import { when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';

/** The schedule a task came from (the ledger keeps its id and the tick), read once: when it runs, what, and its other runs. */
export function ScheduleOrigin({ session, scheduleId, tick }: { session: Session; scheduleId: string; tick: string | null }) {
  const schedule = usePolled(() => call<Schedule>(session.key, 'GET', `/v1/schedules/${scheduleId}`), 0, [session.key, scheduleId]);
  const runs = <a href={href('/tasks', { scheduleId })}>its runs</a>;
  if (!schedule.data)
    return (
      <span data-testid="schedule-origin">
        {schedule.error ? `schedule ${scheduleId.slice(0, 8)}… (${schedule.error})` : '…'} · {runs}
      </span>
    );
  const { cron, timezone, everyMs, task, paused, enabled } = schedule.data;
  return (
    <span data-testid="schedule-origin">
      <a href={href('/schedules')}>{cron ? `${cron} (${timezone})` : `every ${everyMs} ms`}</a> → {task.type}
      {!enabled ? ' · disabled' : paused ? ' · paused' : ''} · tick <span title={tick ?? undefined}>{when(tick)}</span> · {runs}
    </span>
  );
}
