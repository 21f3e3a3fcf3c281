import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

const DASHBOARD = '/admin/queues';
const CHROMIUM = '/usr/bin/chromium';
const BOARD_HOST = 'conveyor.test';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const basic = (password: string, user = 'admin') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

// CI installs chromium (scripts/ensure-services.sh), so there a missing browser is a failure.
const browserTest = existsSync(CHROMIUM) || process.env.CI ? it : it.skip;
const browserTestName = existsSync(CHROMIUM)
  ? 'renders in headless Chromium with admin Basic credentials and lists the system queue'
  : `renders in headless Chromium (skipped: ${CHROMIUM} is missing; \`npm run services\` installs it)`;

describe('queue dashboard (Bull Board at /admin/queues)', () => {
  let stack: Stack;
  let writer: { key: string };

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { RATE_LIMIT_PER_MINUTE: '100000' } });
    writer = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'acme', scopes: ['tasks:read', 'tasks:write'] })).body;
    // Something to show: two waiting tasks (BullMQ counts them as prioritized) and a delayed one;
    // no worker runs here.
    await http(stack.apiUrl, 'POST', '/v1/tasks/batch', {
      tasks: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: 10 } },
        { type: 'system.noop', payload: {}, delayMs: 600_000 },
      ],
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 401 with a Basic challenge and the error body without admin credentials', async () => {
    const attempts: Record<string, string> = {
      none: '',
      'wrong key': basic('cvk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
      'admin key plus a character': basic(`${TEST_ADMIN_KEY}x`),
      'admin key as username only': `Basic ${Buffer.from(`${TEST_ADMIN_KEY}:`).toString('base64')}`,
      'admin key as bearer, not Basic': `Bearer ${TEST_ADMIN_KEY}`,
      'not base64': 'Basic !!!',
    };
    for (const path of [DASHBOARD, `${DASHBOARD}/`, `${DASHBOARD}/api/queues`, `${DASHBOARD}/static/images/logo.svg`]) {
      for (const [what, authorization] of Object.entries(attempts)) {
        const response = await http(stack.apiUrl, 'GET', path, undefined, { authorization });
        expect({ path, what, status: response.status }).toEqual({ path, what, status: 401 });
        expect(response.headers.get('www-authenticate')).toBe('Basic realm="Conveyor"');
        expect(response.body.error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.any(String) });
      }
    }
  });

  it('answers 403 for a valid key without the admin scope', async () => {
    for (const path of [DASHBOARD, `${DASHBOARD}/api/queues`]) {
      const response = await http(stack.apiUrl, 'GET', path, undefined, { authorization: basic(writer.key) });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('FORBIDDEN');
      expect(response.headers.get('www-authenticate')).toBeNull();
    }
  });

  it('serves the board and its queue API with an admin key as the Basic password (any username)', async () => {
    const adminKey = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'ops', scopes: ['admin'] })).body.key as string;
    for (const authorization of [basic(TEST_ADMIN_KEY), basic(TEST_ADMIN_KEY, ''), basic(adminKey, 'alice')]) {
      const page = await http(stack.apiUrl, 'GET', DASHBOARD, undefined, { authorization });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.body).toContain(`<base href="${DASHBOARD}/" />`);
      expect(page.headers.get('x-request-id')).toBeTruthy();
    }
    // The dashboard keeps the API's CSP except upgrade-insecure-requests (see the browser test).
    const board = (await http(stack.apiUrl, 'GET', DASHBOARD, undefined, { authorization: basic(TEST_ADMIN_KEY) })).headers.get('content-security-policy')!;
    const json = (await http(stack.apiUrl, 'GET', '/v1/queues')).headers.get('content-security-policy')!;
    expect(board).toContain("script-src 'self'");
    expect(board).not.toMatch(/upgrade-insecure-requests/);
    expect(board).toBe(
      json
        .split(';')
        .filter((d) => d.trim() !== 'upgrade-insecure-requests')
        .join(';'),
    );

    const api = await http(stack.apiUrl, 'GET', `${DASHBOARD}/api/queues?activeQueue=system&status=latest`, undefined, {
      authorization: basic(TEST_ADMIN_KEY),
    });
    expect(api.status).toBe(200);
    const system = api.body.queues.find((q: { name: string }) => q.name === 'system');
    expect(system).toMatchObject({ readOnlyMode: true, counts: expect.objectContaining({ prioritized: 2, delayed: 1 }) });
  });

  it('keeps the dashboard read-only: Bull Board actions would bypass the task ledger', async () => {
    const response = await http(stack.apiUrl, 'PUT', `${DASHBOARD}/api/queues/system/pause`, undefined, { authorization: basic(TEST_ADMIN_KEY) });
    expect(response.status).toBe(405);
    const api = await http(stack.apiUrl, 'GET', `${DASHBOARD}/api/queues`, undefined, { authorization: basic(TEST_ADMIN_KEY) });
    expect(api.body.queues.find((q: { name: string }) => q.name === 'system').isPaused).toBe(false);
  });

  it('never writes the admin credentials to the logs', () => {
    const output = stack.api!.output();
    expect(output).not.toContain(TEST_ADMIN_KEY);
    expect(output).not.toContain(basic(TEST_ADMIN_KEY).slice('Basic '.length));
  });

  browserTest(browserTestName, async () => {
    const profile = mkdtempSync(join(tmpdir(), 'conveyor-chromium-'));
    const screenshot = join(tmpdir(), `conveyor-dashboard-${process.pid}.png`);
    const queueScreenshot = join(tmpdir(), `conveyor-dashboard-queue-${process.pid}.png`);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      // A name, not 127.0.0.1: browsers treat loopback as a secure origin, so only a named host
      // over plain HTTP shows what a CSP does to a real deployment (upgrade-insecure-requests
      // would send every script and stylesheet to https:// and break the board).
      args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${BOARD_HOST} 127.0.0.1`],
      httpCredentials: { username: 'admin', password: TEST_ADMIN_KEY },
      viewport: { width: 1280, height: 800 },
    });
    try {
      // Anything the page's Content-Security-Policy blocks is recorded, as is every failed request.
      // (Browser-side code as text: the tests compile without the DOM typings.)
      await context.addInitScript({
        content: `window.cspViolations = [];
          document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const cspViolations = () => page.evaluate<string[]>('window.cspViolations');
      const consoleErrors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      const boardUrl = stack.apiUrl.replace('127.0.0.1', BOARD_HOST);
      const failedOwn: string[] = [];
      page.on('requestfailed', (request) => {
        if (new URL(request.url()).hostname === BOARD_HOST) failedOwn.push(`${request.url()} ${request.failure()?.errorText}`);
      });

      const response = await page.goto(`${boardUrl}${DASHBOARD}`, { waitUntil: 'domcontentloaded' });
      expect(response?.status()).toBe(200);
      // The queue list is rendered by the board's scripts, so seeing it proves they ran.
      const queueLink = page.locator(`a[href*="queue/system"]`).first();
      await queueLink.waitFor({ state: 'visible', timeout: 15_000 }).catch(async (error: Error) => {
        const violations = await cspViolations();
        throw new Error(`${error.message}\nfailed requests: ${failedOwn.join(', ')}\nCSP violations: ${violations.join(', ')}`);
      });
      await expect(queueLink.textContent()).resolves.toContain('system');
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.screenshot({ path: screenshot, fullPage: true });

      // One level deeper: the queue's job list (job name = task type), on the "all" tab.
      await queueLink.click();
      await page.waitForURL(/\/admin\/queues\/queue\/system/);
      await page.getByText('system.sleep').first().waitFor({ state: 'visible', timeout: 20_000 });
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.screenshot({ path: queueScreenshot, fullPage: true });
      console.log(`dashboard screenshots: ${screenshot} ${queueScreenshot}`);

      expect(await cspViolations()).toEqual([]);
      expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
      expect(failedOwn).toEqual([]);
      expect(response?.headers()['content-security-policy']).toBeTruthy();
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
