import { useState } from 'preact/hooks';
import { can, type Session } from './api';
import { href, useRoute } from './router';
import { signOut, storedSession } from './session';
import { SignIn } from './views/sign-in';
import { TasksView } from './views/tasks';
import { TaskDetail } from './views/task-detail';
import { NewTask } from './views/new-task';
import { FailedInbox } from './views/failed';
import { QueuesView } from './views/queues';
import { FilesView } from './views/files';
import { SchedulesView } from './views/schedules';
import { WebhooksView } from './views/webhooks';
import { ExportsView } from './views/exports';

const NAV = [
  { path: '/tasks', label: 'Tasks' },
  { path: '/failed', label: 'Failed inbox' },
  { path: '/queues', label: 'Queues' },
  { path: '/files', label: 'Files' },
  { path: '/schedules', label: 'Schedules' },
  { path: '/webhooks', label: 'Webhooks' },
  { path: '/exports', label: 'Exports' },
];

export function App() {
  const [session, setSession] = useState<Session | null>(storedSession);
  const route = useRoute();
  if (!session) return <SignIn onSignedIn={setSession} />;

  const section = route.path.startsWith('/tasks/') ? '/tasks' : route.path;
  let view;
  if (route.path.startsWith('/tasks/')) view = <TaskDetail session={session} id={route.path.slice('/tasks/'.length)} />;
  else if (route.path === '/new' && can(session, 'tasks:write')) view = <NewTask session={session} params={route.params} />;
  else if (route.path === '/failed') view = <FailedInbox session={session} />;
  else if (route.path === '/queues') view = <QueuesView session={session} />;
  else if (route.path === '/schedules') view = <SchedulesView session={session} />;
  else if (route.path === '/webhooks') view = <WebhooksView session={session} />;
  else if (route.path === '/exports') view = <ExportsView session={session} />;
  else if (route.path === '/files') view = <FilesView session={session} params={route.params} />;
  else view = <TasksView session={session} params={route.params} />;

  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Conveyor</span>
        <nav aria-label="Sections">
          {NAV.map((item) => (
            <a key={item.path} href={href(item.path)} aria-current={section === item.path ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
          {can(session, 'tasks:write') && (
            <a href={href('/new')} aria-current={section === '/new' ? 'page' : undefined}>
              New task
            </a>
          )}
        </nav>
        <span class="who" data-testid="who">
          tenant <strong>{session.tenantId}</strong> · {session.scopes.join(', ')}
        </span>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            signOut();
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </div>
  );
}
