import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/dockerfile';

/**
 * k8s/monitoring/: the alert rules pass the real `promtool check rules` and their unit tests
 * (`promtool test rules`: each alert fires on the series it watches, with its labels and
 * annotations, and stays quiet on healthy ones). promtool is Debian's prometheus package, which
 * scripts/ensure-services.sh installs: CI always runs this. That the dashboard's and the rules'
 * queries name metrics the apps really export is checked against live scrapes in
 * test/e2e/monitoring.e2e-spec.ts.
 */
const RULES = 'k8s/monitoring/conveyor-alerts.yaml';
const RULE_TESTS = 'k8s/monitoring/tests/conveyor-alerts.test.yaml';
const hasPromtool = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8' });

describe('k8s/monitoring alert rules', () => {
  (hasPromtool || process.env.CI ? it : it.skip)('pass promtool check rules', () => {
    const result = promtool('check', 'rules', RULES);
    expect(`${result.stdout}${result.stderr}`).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  (hasPromtool || process.env.CI ? it : it.skip)('pass their promtool unit tests', () => {
    const result = promtool('test', 'rules', RULE_TESTS);
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: expect.stringMatching(/SUCCESS/) });
  });

  it('cover every alert the operations guide promises, each tested, each with a severity and a summary', () => {
    const groups = parse(readFileSync(join(ROOT, RULES), 'utf8')).groups as Array<{ rules: Array<Record<string, any>> }>;
    const alerts = groups.flatMap((group) => group.rules).filter((rule) => rule.alert);
    expect(alerts.map((rule) => rule.alert).sort()).toEqual(
      [
        'ConveyorLedgerBacklogHigh',
        'ConveyorLedgerWriteErrors',
        'ConveyorOldestTaskWaiting',
        'ConveyorQueueBacklogGrowing',
        'ConveyorQueueWithoutWorker',
        'ConveyorReconcilerReAdds',
        'ConveyorTaskFailureRatioHigh',
        'ConveyorWorkerCannotConsume',
      ].sort(),
    );
    for (const rule of alerts) {
      expect({ alert: rule.alert, severity: rule.labels?.severity, summary: typeof rule.annotations?.summary }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(warning|critical)$/),
        summary: 'string',
      });
    }
    const tested = new Set(
      (parse(readFileSync(join(ROOT, RULE_TESTS), 'utf8')).tests as Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>)
        .flatMap((test) => test.alert_rule_test ?? [])
        .filter((test) => test.exp_alerts.length > 0)
        .map((test) => test.alertname),
    );
    expect(alerts.map((rule) => rule.alert).filter((name) => !tested.has(name))).toEqual([]);
  });
});
