import { call, type Session } from '../api';
import { when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';

interface Schedule {
  id: string;
  key: string | null;
  readOnly: boolean;
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  task: { type: string };
  enabled: boolean;
  paused: boolean;
  nextRunAt: string | null;
  lastTickAt: string | null;
}

/** Read-only: the tenant's schedules (`GET /v1/schedules`), each linking to its runs. */
export function SchedulesView({ session }: { session: Session }) {
  const list = usePolled(() => call<{ schedules: Schedule[] }>(session.key, 'GET', '/v1/schedules?limit=100'), 10_000, [session.key]);
  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && list.data.schedules.length === 0 && <p class="empty">No schedules.</p>}
      {list.data && list.data.schedules.length > 0 && (
        <table>
          <caption class="sr-only">Schedules</caption>
          <thead>
            <tr>
              <th scope="col">Task type</th>
              <th scope="col">When</th>
              <th scope="col">State</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">Runs</th>
            </tr>
          </thead>
          <tbody>
            {list.data.schedules.map((schedule) => (
              <tr key={schedule.id}>
                <td>
                  {schedule.task.type}
                  {schedule.key && <span class="hint"> · {schedule.key}</span>}
                </td>
                <td class="mono">{schedule.cron ? `${schedule.cron} (${schedule.timezone})` : `every ${schedule.everyMs} ms`}</td>
                <td>{!schedule.enabled ? 'disabled' : schedule.paused ? 'paused' : 'active'}</td>
                <td>{when(schedule.nextRunAt)}</td>
                <td>{when(schedule.lastTickAt)}</td>
                <td>
                  <a href={href('/tasks', { scheduleId: schedule.id })}>runs</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
