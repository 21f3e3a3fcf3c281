import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiKeyAuthenticator } from '@conveyor/auth';
import { JobRelay, TaskTypeRegistry } from '@conveyor/tasks';
import { adminBasicAuth } from './admin-basic-auth';
import { relaxDashboardCsp } from './dashboard-csp';
import { dashboardErrorBody, rememberDashboardError } from './dashboard-errors';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export interface QueueDashboardOptions {
  /** URL prefix of the dashboard; default `/admin/queues`. */
  prefix?: string;
}

/**
 * Mounts Bull Board on the API's Fastify instance, showing every queue the task registry knows,
 * behind admin credentials (see `adminBasicAuth`). Call after `NestFactory.create` and before
 * `listen`.
 *
 * The board is read-only: the task ledger is the record of every task, and Bull Board's
 * actions (retry, clean, add, promote) change Redis behind the ledger's back. Cancel and
 * retry go through the API (`POST /v1/tasks/:id/cancel`, `/retry`), which keeps both in step.
 */
export async function mountQueueDashboard(app: NestFastifyApplication, options: QueueDashboardOptions = {}): Promise<void> {
  const prefix = options.prefix ?? QUEUE_DASHBOARD_PATH;
  const registry = app.get(TaskTypeRegistry);
  const relay = app.get(JobRelay);
  const authenticator = app.get(ApiKeyAuthenticator);

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(prefix);
  createBullBoard({
    queues: registry.queues().map((name) => new BullMQAdapter(relay.queue(name), { readOnlyMode: true })),
    // @bull-board/fastify 9.10.1 types itself against its own nested copy of @bull-board/api
    // 9.10.1; the adapter contract is the same in 9.10.2, only the declarations differ.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Conveyor queues' } },
  });

  const fastify = app.getHttpAdapter().getInstance();
  // The hooks live in this plugin's own scope, so they apply to exactly the dashboard's routes.
  await fastify.register(async (dashboard) => {
    dashboard.addHook(
      'onRequest',
      adminBasicAuth((key, request, reply) => authenticator.authenticate(request, reply, key)),
    );
    dashboard.addHook('onSend', relaxDashboardCsp);
    dashboard.addHook('onError', rememberDashboardError);
    dashboard.addHook('onSend', dashboardErrorBody);
    await dashboard.register(serverAdapter.registerPlugin(), { prefix });
  });
}
