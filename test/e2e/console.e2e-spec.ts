import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { waitFor } from '@conveyor/testing';
import { http, localWebhookEnv, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack } from './support/stack';

/** Screenshots of the main views land in the README's images, from this very run. */
const SHOTS = join(__dirname, '..', '..', 'docs', 'img');

const LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
};

/** The built console (dist/console) in a real browser against the built API and worker. */
describe('web console', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let acmeKey: string;
  let globexKey: string;
  /** Every console error and uncaught page error of the run: there must be none. */
  const problems: string[] = [];
  const asAcme = () => ({ authorization: `Bearer ${acmeKey}` });
  const apiGet = async (path: string, headers = asAcme()) => (await http(stack.apiUrl, 'GET', path, undefined, headers)).body;

  const signIn = async (key: string) => {
    await page.goto(`${stack.apiUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').waitFor();
  };

  beforeAll(async () => {
    stack = await startStack({ dialect: 'postgres', env: localWebhookEnv() });
    const key = async (tenant: string) =>
      (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant, scopes: ['tasks:read', 'tasks:write'] })).body.key as string;
    [acmeKey, globexKey] = [await key('acme'), await key('globex')];
    browser = await chromium.launch(LAUNCH);
    page = await browser.newPage({ viewport: { width: 1366, height: 820 } });
    page.setDefaultTimeout(30_000);
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  afterEach(() => {
    expect(problems).toEqual([]);
  });

  it('is served at /console with cache headers for hashed assets and the API security headers; / redirects there', async () => {
    const root = await fetch(`${stack.apiUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    const index = await fetch(`${stack.apiUrl}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1];
    const asset = await fetch(`${stack.apiUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
  });

  it('documents the routes it adds and refuses a bad search with a machine-readable code', async () => {
    const document = (await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' })).body;
    const schema = (path: string) => document.paths[path].get.responses['200'].content['application/json'].schema;
    expect(schema('/v1/tasks/counts')).toEqual({ $ref: '#/components/schemas/TaskCountsView' });
    expect(schema('/v1/whoami')).toEqual({ $ref: '#/components/schemas/WhoAmIView' });
    expect(schema('/v1/tasks/failures')).toEqual({ $ref: '#/components/schemas/FailureGroupsView' });
    for (const action of ['retry', 'cancel']) {
      expect(document.paths[`/v1/tasks/bulk/${action}`].post.responses['200'].content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/BulkOutcomeView',
      });
    }
    const listParameters = (document.paths['/v1/tasks'].get.parameters as Array<{ name: string }>).map((p) => p.name);
    expect(listParameters).toEqual(expect.arrayContaining(['q', 'createdAfter', 'createdBefore']));
    expect(await apiGet('/v1/whoami')).toMatchObject({ tenantId: 'acme', scopes: ['tasks:read', 'tasks:write'] });
    const tooShort = await http(stack.apiUrl, 'GET', '/v1/tasks?q=x', undefined, asAcme());
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.error.code).toBe('VALIDATION_FAILED');
    const badTime = await http(stack.apiUrl, 'GET', '/v1/tasks?createdAfter=yesterday', undefined, asAcme());
    expect(badTime.status).toBe(400);
    expect(badTime.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('signs in with a tenant key, enqueues a system.sleep and follows it live to completion', async () => {
    const eventStreams: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/events')) eventStreams.push(request.url());
    });
    await signIn(acmeKey);
    await expect(page.getByTestId('who').textContent()).resolves.toContain('acme');
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Type').selectOption('system.sleep');
    await page.getByLabel('Payload (JSON)').fill('{"ms": 3000}');
    await page.getByLabel('Tags (comma-separated)').fill('console-e2e');
    await page.screenshot({ path: join(SHOTS, 'console-new-task.png') });
    await page.getByRole('button', { name: 'Enqueue' }).click();
    await page.waitForURL(/#\/tasks\/[0-9a-f-]{36}$/);
    const id = /#\/tasks\/([0-9a-f-]{36})$/.exec(page.url())![1];
    // The page is never reloaded: the status changes arrive over the task's event stream.
    await page.locator('.live').waitFor();
    await page.locator('h1 .badge', { hasText: 'completed' }).waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('progress-text').textContent()).resolves.toMatch(/^100%/);
    expect(eventStreams).toEqual([`${stack.apiUrl}/v1/tasks/${id}/events`]);
    await expect(page.getByTestId('result').textContent()).resolves.toContain('slept');
    await page.screenshot({ path: join(SHOTS, 'console-task.png'), fullPage: true });
    expect(await apiGet(`/v1/tasks/${id}`)).toMatchObject({ status: 'completed', tags: ['console-e2e'] });
  });

  it('filters the list by status and by text in the payload, with live counts', async () => {
    const failing = [];
    for (let i = 0; i < 2; i += 1) {
      const { body } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 10, failTimes: 5 }, maxAttempts: 1 }, asAcme());
      failing.push(body.id as string);
    }
    for (const id of failing) expect(await waitForTerminal(stack.apiUrl, id, 60_000, asAcme())).toMatchObject({ status: 'failed' });
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await waitFor(async () => (await page.getByTestId('count-failed').textContent())?.includes('2'), { timeoutMs: 30_000, what: 'two failed counted' });
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor(async () => (await page.locator('table.tasks tbody tr').count()) === 2, { timeoutMs: 30_000, what: 'two failed rows' });
    await page.screenshot({ path: join(SHOTS, 'console-tasks.png') });

    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL(/#\/tasks$/);
    await waitFor(async () => (await page.getByLabel('Status', { exact: true }).inputValue()) === '', { what: 'the filters cleared' });
    await page.getByLabel('Search payload, result, error').fill('FAILTIMES');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/q=FAILTIMES/);
    await waitFor(async () => (await page.locator('table.tasks tbody tr').count()) === 2, { timeoutMs: 30_000, what: 'two rows matching the text' });
    const shown = await page.locator('table.tasks tbody td a').allTextContents();
    expect(shown.sort()).toEqual(failing.map((id) => `${id.slice(0, 8)}…${id.slice(-4)}`).sort());
  });

  it('opens a failed task and retries it', async () => {
    await page.locator('table.tasks tbody td a').first().click();
    await page.locator('h1 .badge', { hasText: 'failed' }).waitFor();
    const id = /#\/tasks\/([0-9a-f-]{36})$/.exec(page.url())![1];
    await expect(page.getByTestId('error').textContent()).resolves.toContain('code');
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Queued again.' }).waitFor();
    // It runs again (attempt 2, which fails too: failTimes 5) and the page follows it.
    await waitFor(async () => (await apiGet(`/v1/tasks/${id}`)).attempts === 2 && (await apiGet(`/v1/tasks/${id}`)).status === 'failed', {
      timeoutMs: 60_000,
      what: 'the second attempt',
    });
    await waitFor(async () => (await page.getByTestId('attempts').textContent())?.startsWith('2 of'), { timeoutMs: 30_000, what: 'attempt 2 shown' });
  });

  it('retries a group of the failed inbox by selection, then by filter', async () => {
    const failedTasks = async () => (await apiGet('/v1/tasks?status=failed')).tasks as Array<{ id: string; attempts: number }>;
    const runAgain = async (before: Array<{ id: string; attempts: number }>) => {
      for (const task of before) {
        await waitFor(
          async () => {
            const now = await apiGet(`/v1/tasks/${task.id}`);
            return now.attempts === task.attempts + 1 && now.status === 'failed';
          },
          { timeoutMs: 60_000, what: `${task.id} to run again and fail` },
        );
      }
    };
    const before = await failedTasks();
    expect(before).toHaveLength(2);
    await page.getByRole('link', { name: 'Failed inbox' }).click();
    const group = page.getByRole('article', { name: /^system\.sleep / });
    await group.getByTestId('group-count').filter({ hasText: '2 tasks' }).waitFor();
    await group.getByRole('button', { name: /^Show tasks of system\.sleep/ }).click();
    await group.getByLabel('Select the 2 shown').check();
    await page.screenshot({ path: join(SHOTS, 'console-failed.png') });
    await page.getByRole('button', { name: 'Retry selected (2)' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 2 of 2.' }).waitFor();
    await runAgain(before);

    const again = await failedTasks();
    await group.getByTestId('group-count').filter({ hasText: '2 tasks' }).waitFor();
    await group.getByRole('button', { name: 'Retry all 2' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 2 of 2.' }).waitFor();
    await runAgain(again);
  });

  it('shows queue depth with a chart', async () => {
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('heading', { name: 'system', exact: true }).waitFor();
    await page.locator('.chart polyline').first().waitFor({ state: 'attached' });
    await page.screenshot({ path: join(SHOTS, 'console-queues.png') });
  });

  it('uploads a file, cleans it with rules picked in the form, follows it and downloads the output', async () => {
    await page.getByRole('link', { name: 'Files', exact: true }).click();
    await page.getByLabel('File (CSV, TSV or JSON Lines)').setInputFiles({
      name: 'people.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('name,email\n  Ada ,ada@example.com\nAda,ada@example.com\nBob,bob@example.com\n'),
    });
    await page.getByLabel('Remove duplicate rows').check();
    await page.getByRole('button', { name: 'Upload and clean' }).click();
    const downloadButton = page.getByRole('button', { name: 'Download cleaned file' });
    await downloadButton.waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('report').textContent()).resolves.toMatch(/"duplicatesRemoved": 1/);
    await page.screenshot({ path: join(SHOTS, 'console-files.png'), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent('download'), downloadButton.click()]);
    const cleaned = readFileSync(await download.path(), 'utf8');
    expect(cleaned.trim().split(/\r?\n/)).toEqual(['name,email', 'Ada,ada@example.com', 'Bob,bob@example.com']);
  });

  it('shows schedules, webhook endpoints with their deliveries, and exports, read-only', async () => {
    const post = (path: string, body: unknown) => http(stack.apiUrl, 'POST', path, body, asAcme());
    expect((await post('/v1/schedules', { everyMs: 3_600_000, task: { type: 'system.log', payload: { message: 'hourly' } } })).status).toBe(201);
    const endpoint = await post('/v1/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook', events: ['task.completed'], description: 'console test' });
    expect(endpoint.status).toBe(201);
    const exported = await post('/v1/exports', { source: 'tasks', format: 'csv' });
    expect(exported.status).toBe(202);
    expect(await waitForTerminal(stack.apiUrl, exported.body.id, 60_000, asAcme())).toMatchObject({ status: 'completed' });
    // The endpoint takes events once active (500 ms here): a task completed after that is delivered.
    await waitFor(async () => new Date((await apiGet(`/v1/webhooks/endpoints/${endpoint.body.id}`)).activeFrom).getTime() < Date.now() || undefined, {
      what: 'the endpoint active',
    });
    const noop = (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body.id as string;
    await waitForTerminal(stack.apiUrl, noop, 60_000, asAcme());
    await waitFor(async () => (await apiGet(`/v1/webhooks/endpoints/${endpoint.body.id}/deliveries`)).deliveries.length > 0 || undefined, {
      timeoutMs: 60_000,
      what: 'a delivery logged',
    });

    await page.getByRole('link', { name: 'Schedules', exact: true }).click();
    await page.getByRole('cell', { name: 'every 3600000 ms' }).waitFor();
    await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
    const card = page.getByRole('article', { name: 'Endpoint http://127.0.0.1:9/hook' });
    await card.getByRole('button', { name: 'Show deliveries to http://127.0.0.1:9/hook' }).click();
    await card
      .getByRole('cell', { name: /^task\.completed/ })
      .first()
      .waitFor();
    await page.screenshot({ path: join(SHOTS, 'console-webhooks.png') });
    await page.getByRole('link', { name: 'Exports', exact: true }).click();
    await page.getByRole('button', { name: `Details of export ${exported.body.id}` }).click();
    await page.getByText(/tasks → csv · \d+ rows/).waitFor();
  });

  it('shows another tenant none of it', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    // By keyboard alone this time: the key field has the focus, Tab moves on to the button.
    // An expression string: this file is type-checked without the DOM library.
    const focused = () => page.evaluate<string>('(e => `${e?.tagName}#${e?.id}:${e?.textContent}`)(document.activeElement)');
    await waitFor(async () => (await focused()).startsWith('INPUT#api-key'), { what: 'the key field focused' });
    await page.keyboard.type(globexKey);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('BUTTON#:Sign in');
    await page.keyboard.press('Enter');
    await page.getByTestId('who').waitFor();
    await expect(page.getByTestId('who').textContent()).resolves.toContain('globex');
    // Still on the Exports view, now for globex.
    await page.getByText('No exports.').waitFor();
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByText('No tasks match').waitFor();
    await waitFor(async () => (await page.getByTestId('count-failed').textContent())?.includes('0'), { timeoutMs: 30_000, what: 'zero counted' });
    expect(await page.locator('table.tasks tbody tr').count()).toBe(0);
    await page.getByRole('link', { name: 'Failed inbox' }).click();
    await page.getByText('No failed tasks.').waitFor();
    const acmeTask = ((await apiGet('/v1/tasks')).tasks as Array<{ id: string }>)[0].id;
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${acmeTask}`, undefined, { authorization: `Bearer ${globexKey}` })).status).toBe(404);
  });

  it('cancels many tasks by filter or ids, within the tenant, and explains what it refused', async () => {
    const post = (path: string, body: unknown, key = acmeKey) => http(stack.apiUrl, 'POST', path, body, { authorization: `Bearer ${key}` });
    const later = [];
    for (let i = 0; i < 2; i += 1) later.push((await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 600_000 })).body.id as string);
    const globexTask = (await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 600_000 }, globexKey)).body.id as string;
    // Another tenant's id is "not found", never touched.
    const byIds = await post('/v1/tasks/bulk/cancel', { ids: [later[0], globexTask] });
    expect(byIds.status).toBe(200);
    expect(byIds.body).toEqual({ done: [later[0]], skipped: [{ id: globexTask, code: 'TASK_NOT_FOUND', message: expect.any(String) }] });
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${globexTask}`, undefined, { authorization: `Bearer ${globexKey}` })).body.status).toBe('scheduled');
    const byFilter = await post('/v1/tasks/bulk/cancel', { filter: { status: 'scheduled', type: 'system.noop' } });
    expect(byFilter.body).toEqual({ done: [later[1]], skipped: [] });
    expect(await apiGet(`/v1/tasks/${later[1]}`)).toMatchObject({ status: 'cancelled' });
    // Completed tasks are skipped with the code the single-task route gives.
    const completed = (await apiGet('/v1/tasks?status=completed')).tasks[0].id as string;
    expect((await post('/v1/tasks/bulk/retry', { ids: [completed] })).body.skipped).toEqual([
      { id: completed, code: 'TASK_NOT_RETRYABLE', message: expect.any(String) },
    ]);

    for (const [body, code] of [
      [{}, 'BULK_SELECTION_INVALID'],
      [{ ids: [later[0]], filter: {} }, 'BULK_SELECTION_INVALID'],
      [{ filter: { type: 'system.noop' } }, 'BULK_STATUS_INVALID'],
      [{ filter: { status: 'completed' } }, 'BULK_STATUS_INVALID'],
      [{ ids: ['not-a-uuid'] }, 'VALIDATION_FAILED'],
    ] as const) {
      const refused = await post('/v1/tasks/bulk/cancel', body);
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 400, code });
    }
    const reader = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'acme', scopes: ['tasks:read'] })).body.key as string;
    expect((await post('/v1/tasks/bulk/retry', { filter: {} }, reader)).status).toBe(403);
  });
  it('shows on a task’s page what its handler logged with ctx.log', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.log', payload: { message: 'hello from ctx.log', repeat: 2 } }, asAcme());
    expect((await waitForTerminal(stack.apiUrl, created.body.id, 30_000, asAcme())).status).toBe('completed');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(acmeKey);
    await page.goto(`${stack.apiUrl}/console/#/tasks/${created.body.id}`);
    const logs = page.getByTestId('task-logs');
    await logs.waitFor();
    expect(await logs.locator('tbody tr').count()).toBe(2);
    expect(await logs.textContent()).toContain('hello from ctx.log');
  });

  it('lets an admin pause and resume a queue and set its concurrency for every worker', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(TEST_ADMIN_KEY);
    await page.getByRole('link', { name: 'Queues' }).click();
    const card = page.locator('article', { has: page.locator('#queue-system') });
    await card.getByRole('button', { name: 'Pause system' }).click();
    await card.getByRole('button', { name: 'Resume system' }).waitFor();
    expect((await http(stack.apiUrl, 'GET', '/v1/queues/system')).body.paused).toBe(true);
    await card.getByLabel('Concurrency of system per worker').fill('2');
    await card.getByRole('button', { name: 'Apply' }).click();
    await card.getByRole('status').filter({ hasText: 'Concurrency 2 per worker.' }).waitFor();
    await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', '/v1/queues/system');
        return body.settings.concurrency === 2 && (body.workerSettings as Array<{ concurrency: number }>).every((w) => w.concurrency === 2);
      },
      { timeoutMs: 30_000, what: 'every worker to run the system queue at concurrency 2' },
    );
    await page.screenshot({ path: join(SHOTS, 'console-queue-controls.png') });
    await card.getByRole('button', { name: 'Resume system' }).click();
    await card.getByRole('button', { name: 'Pause system' }).waitFor();
    await card.getByLabel('Concurrency of system per worker').fill('');
    await card.getByRole('button', { name: 'Apply' }).click();
    await card.getByRole('status').filter({ hasText: 'back to each worker' }).waitFor();
    const after = (await http(stack.apiUrl, 'GET', '/v1/queues/system')).body;
    expect(after).toMatchObject({ paused: false, settings: { concurrency: null } });
  });

  it('shows the flow tree from any of its tasks, links every node, and the schedule a task came from', async () => {
    const post = (path: string, body: unknown) => http(stack.apiUrl, 'POST', path, body, asAcme());
    const created = await post('/v1/flows', {
      type: 'system.gather',
      payload: {},
      children: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: 10, followUps: 1 }, onFailure: 'ignore' },
      ],
    });
    expect(created.status).toBe(202);
    const [root, noop, sleeper] = created.body.nodes as Array<{ id: string }>;
    expect(await waitForTerminal(stack.apiUrl, root.id, 60_000, asAcme())).toMatchObject({ status: 'completed' });
    const followUp = await waitFor(async () => (await apiGet(`/v1/tasks?parentId=${sleeper.id}`)).tasks[0] as { id: string } | undefined, {
      what: 'the follow-up of the sleeping child',
    });
    expect(await waitForTerminal(stack.apiUrl, followUp.id, 60_000, asAcme())).toMatchObject({ status: 'completed' });
    // Asked from any node, the same tree as the flow's own route, follow-ups under the task that asked.
    const tree = await apiGet(`/v1/flows/${root.id}`);
    for (const id of [root.id, noop.id, followUp.id]) expect(await apiGet(`/v1/tasks/${id}/flow`)).toEqual(tree);
    expect(tree.root.children.map((node: { id: string }) => node.id)).toEqual([noop.id, sleeper.id]);
    expect(tree.root.children[1].followUps).toEqual([{ id: followUp.id, type: 'system.noop', status: 'completed', followUps: [] }]);
    // A chain started by a plain task (no flow): its tree from the follow-up is rooted at that task.
    const plain = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 10, followUps: 1 } })).body.id as string;
    const chained = await waitFor(async () => (await apiGet(`/v1/tasks?parentId=${plain}`)).tasks[0] as { id: string } | undefined, {
      what: 'the follow-up of the plain task',
    });
    expect((await apiGet(`/v1/tasks/${chained.id}/flow`)).root).toMatchObject({ id: plain, children: [], followUps: [{ id: chained.id }] });
    const alone = (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body.id as string;
    expect(await apiGet(`/v1/tasks/${alone}/flow`)).toMatchObject({ id: alone, truncated: false, root: { id: alone, children: [], followUps: [] } });
    const otherTenant = await http(stack.apiUrl, 'GET', `/v1/tasks/${noop.id}/flow`, undefined, { authorization: `Bearer ${globexKey}` });
    expect({ status: otherTenant.status, code: otherTenant.body.error.code }).toEqual({ status: 404, code: 'TASK_NOT_FOUND' });
    const document = (await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' })).body;
    expect(document.paths['/v1/tasks/{id}/flow'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/FlowView',
    });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(acmeKey);
    await page.goto(`${stack.apiUrl}/console/#/tasks/${noop.id}`);
    const flowTree = page.getByRole('navigation', { name: 'Flow tree' });
    await flowTree.waitFor();
    await expect(flowTree.locator('a[aria-current="page"]').getAttribute('href')).resolves.toBe(`#/tasks/${noop.id}`);
    const links = await Promise.all((await flowTree.locator('li a').all()).map((link) => link.getAttribute('href')));
    expect(links).toEqual([root.id, noop.id, sleeper.id, followUp.id].map((id) => `#/tasks/${id}`));
    expect(await flowTree.locator('.badge.completed').count()).toBe(4);
    await page.screenshot({ path: join(SHOTS, 'console-flow.png'), fullPage: true });
    // By keyboard: the link to the root, then Enter.
    await flowTree.getByRole('link', { name: 'Go to the root' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`#/tasks/${root.id}$`));
    await page.locator('h1', { hasText: 'system.gather' }).waitFor();
    await flowTree.getByText('This task is the root.').waitFor();
    await expect(flowTree.locator('a[aria-current="page"]').getAttribute('href')).resolves.toBe(`#/tasks/${root.id}`);

    const schedule = await post('/v1/schedules', { everyMs: 7_200_000, task: { type: 'system.noop', payload: {} } });
    const triggered = await post(`/v1/schedules/${schedule.body.id}/trigger`, undefined);
    expect(triggered.status).toBe(202);
    await page.goto(`${stack.apiUrl}/console/#/tasks/${triggered.body.id}`);
    const origin = page.getByTestId('schedule-origin');
    await origin.getByRole('link', { name: 'every 7200000 ms' }).waitFor();
    expect(await origin.textContent()).toContain('system.noop');
    await expect(origin.getByRole('link', { name: 'its runs' }).getAttribute('href')).resolves.toBe(`#/tasks?scheduleId=${schedule.body.id}`);
  });
});
