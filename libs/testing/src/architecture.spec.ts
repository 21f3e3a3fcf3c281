import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * STYLE §3–4 as a test: the rules live in `.dependency-cruiser.js` (as in Domain-Driven Hexagon),
 * this runs them over apps/ and libs/ and fails with every violation listed.
 */

const ROOT = resolve(__dirname, '../../..');
const CONFIG = '.dependency-cruiser.js';
const TARGETS = ['apps', 'libs'];

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: Array<{ name: string } | string>;
  via?: Array<{ name: string } | string>;
}

interface CruiseResult {
  modules: Array<{ source: string; couldNotResolve?: boolean; dependencies: Array<{ module: string; resolved: string }> }>;
  summary: { violations: Violation[]; totalCruised: number; error: number };
}

/**
 * dependency-cruiser is ESM-only; Jest runs this file as CommonJS, and loads ESM only through a
 * dynamic import under --experimental-vm-modules. The CLI (same config, JSON output) is the
 * fallback should that path ever break.
 */
async function cruiseWithApi(): Promise<CruiseResult> {
  const [{ cruise }, { default: extractDepcruiseOptions }, { default: extractTSConfig }] = await Promise.all([
    import('dependency-cruiser'),
    import('dependency-cruiser/config-utl/extract-depcruise-options'),
    import('dependency-cruiser/config-utl/extract-ts-config'),
  ]);
  const options = await extractDepcruiseOptions(resolve(ROOT, CONFIG));
  const tsConfig = extractTSConfig(resolve(ROOT, 'tsconfig.json'));
  const { output } = await cruise(TARGETS, { ...options, outputType: 'json' }, {}, { tsConfig });
  return (typeof output === 'string' ? JSON.parse(output) : output) as CruiseResult;
}

async function cruiseWithCli(): Promise<CruiseResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [resolve(ROOT, 'node_modules/.bin/depcruise'), '--config', CONFIG, '--output-type', 'json', ...TARGETS],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: { stdout?: string }) => {
    // A non-zero exit only means "violations found" when JSON came out.
    if (error.stdout?.trim().startsWith('{')) return { stdout: error.stdout };
    throw error;
  });
  return JSON.parse(stdout) as CruiseResult;
}

const stepName = (step: { name: string } | string) => (typeof step === 'string' ? step : step.name);

function describeViolation(v: Violation): string {
  const path = v.cycle ?? v.via;
  return `${v.rule.name}: ${v.from} → ${v.to}${path?.length ? `\n      via ${path.map(stepName).join(' → ')}` : ''}`;
}

describe('architecture (dependency-cruiser)', () => {
  let result: CruiseResult;

  beforeAll(async () => {
    const cwd = process.cwd();
    process.chdir(ROOT); // dependency-cruiser resolves targets and reports paths from the cwd
    try {
      result = await cruiseWithApi().catch((error: unknown) => {
        console.warn(`dependency-cruiser API unavailable under Jest (${String(error)}); using the CLI`);
        return cruiseWithCli();
      });
    } finally {
      process.chdir(cwd);
    }
  });

  it('resolves the @conveyor aliases through tsconfig paths (so the rules are not vacuous)', () => {
    expect(result.summary.totalCruised).toBeGreaterThan(50);
    const workerModule = result.modules.find((m) => m.source === 'apps/worker/src/worker.module.ts');
    expect(workerModule?.dependencies).toContainEqual(expect.objectContaining({ module: '@conveyor/tasks', resolved: 'libs/tasks/src/index.ts' }));
    expect(result.modules.filter((m) => m.couldNotResolve).map((m) => m.source)).toEqual([]);
  });

  it('has no dependency violations', () => {
    const violations = result.summary.violations;
    if (violations.length > 0) {
      const byRule = new Map<string, Violation[]>();
      for (const v of violations) byRule.set(v.rule.name, [...(byRule.get(v.rule.name) ?? []), v]);
      const report = [...byRule].map(([rule, list]) => `${rule} (${list.length}):\n${list.map((v) => `  - ${describeViolation(v)}`).join('\n')}`).join('\n\n');
      throw new Error(`${violations.length} dependency violation(s):\n\n${report}`);
    }
    expect(violations).toEqual([]);
  });
});
