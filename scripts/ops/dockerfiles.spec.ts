import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import {
  commandOf,
  dockerignore,
  envOf,
  flattenStage,
  parseCopy,
  parseDockerfile,
  readDockerfile,
  resolveBase,
  ROOT,
  type Dockerfile,
} from './support/dockerfile';

/**
 * Dockerfile.api and Dockerfile.worker, checked without a Docker engine (none on our machines):
 * lint (dockerfile-utils, the VS Code Docker linter), structure, and that every file they use
 * exists and reaches the build context. test/e2e/ops/docker-image.e2e-spec.ts then runs the
 * runtime stage's layout for real.
 */
const FILES = { api: 'Dockerfile.api', worker: 'Dockerfile.worker' } as const;
const isIgnored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));

describe.each(Object.entries(FILES))('%s image (%s)', (mode, file) => {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const dockerfile: Dockerfile = parseDockerfile(text);
  const final = dockerfile.stages.at(-1)!;
  const finalInstructions = flattenStage(dockerfile, final);
  const all = (keyword: string) => finalInstructions.filter((i) => i.keyword === keyword);
  const last = (keyword: string) => all(keyword).at(-1);

  it('passes the Dockerfile linter without problems', () => {
    expect(validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('is multi-stage on a Node 24 slim/alpine base', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of dockerfile.stages) {
      const base = resolveBase(dockerfile, stage);
      const parent = dockerfile.stages.find((s) => s.name === stage.base);
      if (!parent) expect(base).toMatch(/^node:24(\.[\d.]+)?-([a-z]+-)?(slim|alpine)/);
    }
    expect(dockerfile.stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'prod-deps', 'runtime']));
  });

  it('ships production dependencies only: node_modules from an `npm ci --omit=dev` stage, dist from the build stage', () => {
    const copiesFrom = all('COPY')
      .map((i) => parseCopy(i.args))
      .filter((c) => c.from);
    const modules = copiesFrom.find((c) => c.sources.some((s) => s.endsWith('node_modules')));
    expect(modules).toBeDefined();
    const depsStage = dockerfile.stages.find((s) => s.name === modules!.from)!;
    expect(
      depsStage.instructions
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join(' '),
    ).toMatch(/npm ci [^&]*--omit=dev/);
    // nothing else comes over from the stage that has the dev dependencies
    expect(copiesFrom.filter((c) => c.from === 'build').map((c) => c.sources)).toEqual([['/app/dist']]);
    expect(
      finalInstructions
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join('\n'),
    ).not.toMatch(/npm (ci|install)/);
  });

  it('runs as a non-root user, by number (Kubernetes runAsNonRoot can only verify a number)', () => {
    const user = last('USER')?.args;
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    // USER comes after every RUN of the runtime stage, so nothing at run time is root
    const lastRun = finalInstructions.map((i) => i.keyword).lastIndexOf('RUN');
    expect(finalInstructions.indexOf(last('USER')!)).toBeGreaterThan(lastRun);
  });

  it('starts under an init (tini) so SIGTERM reaches Node, through the MODE entry point', () => {
    const entrypoint = commandOf(last('ENTRYPOINT')!.args);
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint[2]).toBe('/app/scripts/docker-entrypoint.sh');
    expect(
      all('RUN')
        .map((i) => i.args)
        .join('\n'),
    ).toMatch(/apt-get install [^&]*\btini\b/);
    expect(all('CMD')).toEqual([]); // a CMD would become arguments of the app
  });

  it(`defaults to MODE=${mode} and checks its health endpoint`, () => {
    const env = envOf(finalInstructions);
    expect(env.MODE).toBe(mode);
    const port = mode === 'api' ? env.PORT : env.WORKER_HEALTH_PORT;
    expect(all('EXPOSE').map((i) => i.args)).toEqual([port]);
    const healthcheck = last('HEALTHCHECK')!.args;
    expect(healthcheck).toMatch(/--interval=\d+s/);
    expect(healthcheck).toMatch(/--start-period=\d+s/);
    expect(commandOf(healthcheck)).toEqual(['node', '/app/scripts/healthcheck.js']);
    expect(readFileSync(join(ROOT, 'scripts/healthcheck.js'), 'utf8')).toMatch(/\/health\/ready/);
  });

  it('copies only paths that exist and that .dockerignore lets into the build context', () => {
    const contextSources = dockerfile.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
      .map((i) => parseCopy(i.args))
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    expect(contextSources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'apps', 'libs']));
    for (const source of contextSources) {
      expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: isIgnored(source) }).toEqual({ source, ignored: false });
    }
  });

  it('uses, at run time, only files it copied in (entry point and health check are executable/readable)', () => {
    const copied = all('COPY')
      .map((i) => parseCopy(i.args))
      .flatMap((c) => (c.dest.endsWith('/') ? c.sources.map((s) => `${c.dest}${s.split('/').at(-1)}`) : [c.dest]))
      .map((dest) => dest.replace(/^\.\//, '/app/'));
    const used = [commandOf(last('ENTRYPOINT')!.args)[2], commandOf(last('HEALTHCHECK')!.args)[1]];
    for (const path of used) expect(copied).toContain(path);
    expect(statSync(join(ROOT, 'scripts/docker-entrypoint.sh')).mode & 0o111).not.toBe(0);
  });
});

describe('the two Dockerfiles', () => {
  it('build the same image: every stage but the last is identical', () => {
    const [api, worker] = [readDockerfile(FILES.api), readDockerfile(FILES.worker)];
    const shared = (d: Dockerfile) => ({
      args: d.globalArgs,
      stages: d.stages.slice(0, -1).map((s) => ({ ...s, instructions: s.instructions.map((i) => `${i.keyword} ${i.args}`) })),
    });
    expect(shared(api)).toEqual(shared(worker));
    expect(api.stages.at(-1)!.base).toBe('runtime');
    expect(worker.stages.at(-1)!.base).toBe('runtime');
  });

  it('docker-entrypoint.sh starts every built entry point the npm scripts name, and refuses an unknown MODE', () => {
    const entry = readFileSync(join(ROOT, 'scripts/docker-entrypoint.sh'), 'utf8');
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const paths = entry.replace(/"\$app/g, '"dist/apps/api/apps/api/src');
    for (const name of ['start:api', 'start:worker', 'migrate', 'validate-config']) {
      const built = /dist\/\S+\.js/.exec(scripts[name])![0];
      expect({ name, inEntrypoint: paths.includes(built) }).toEqual({ name, inEntrypoint: true });
    }
    expect(entry).toMatch(/exit 64/);
  });

  it('.dockerignore keeps secrets, dependencies, build output and tests out of the context', () => {
    for (const path of [
      '.env',
      'node_modules/x',
      'dist/apps/api',
      '.git/HEAD',
      'logs/worker.log',
      'data/storage/f',
      'test/e2e/x.ts',
      'libs/tasks/src/a.spec.ts',
      'libs/tasks/test/a.integration-spec.ts',
      'libs/testing/src/index.ts',
      'k8s/api-deployment.yaml',
    ]) {
      expect({ path, ignored: isIgnored(path) }).toEqual({ path, ignored: true });
    }
    for (const path of ['apps/api/src/main.ts', 'libs/tasks/src/index.ts', 'scripts/healthcheck.js', 'package-lock.json']) {
      expect({ path, ignored: isIgnored(path) }).toEqual({ path, ignored: false });
    }
  });
});
