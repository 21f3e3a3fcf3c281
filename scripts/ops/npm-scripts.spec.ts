import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/dockerfile';

/**
 * The operator-facing npm scripts: each app has dev (watch), debug (inspector) and prod (built)
 * variants; migrations run only from their own commands.
 */
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
const entry = { api: 'dist/apps/api/apps/api/src/main.js', worker: 'dist/apps/worker/apps/worker/src/main.js' };

describe('npm scripts', () => {
  it.each(['api', 'worker'] as const)('%s: dev watches, debug opens an inspector, prod runs the build', (app) => {
    expect(scripts[`${app}:dev`]).toBe(`nest start ${app} --watch`);
    expect(scripts[`${app}:debug`]).toMatch(new RegExp(`^nest start ${app} --debug 127\\.0\\.0\\.1:\\d+ --watch$`));
    expect(scripts[`${app}:prod`]).toBe(`NODE_ENV=production node ${entry[app]}`);
    const nest = JSON.parse(readFileSync(join(ROOT, 'nest-cli.json'), 'utf8'));
    expect(nest.projects[app]).toMatchObject({ type: 'application', entryFile: 'main' });
  });

  it('gives the API and the worker different inspector ports, so both can be debugged at once', () => {
    const port = (name: string) => /:(\d+)/.exec(scripts[name])![1];
    expect(port('api:debug')).not.toBe(port('worker:debug'));
  });

  it('migrates only through migrate / migrate:revert, never as part of starting an app', () => {
    expect(scripts.migrate).toMatch(/^node scripts\/run-built\.js dist\/apps\/api\/apps\/api\/src\/migrate\.js$/);
    expect(scripts['migrate:revert']).toBe(`${scripts.migrate} --revert`);
    expect(scripts['validate-config']).toMatch(/validate-config\.js$/);
    for (const name of ['api:dev', 'api:debug', 'api:prod', 'worker:dev', 'worker:debug', 'worker:prod', 'pm2:start', 'pm2:reload']) {
      expect({ name, migrates: /migrat/.test(scripts[name]) }).toEqual({ name, migrates: false });
    }
    expect(existsSync(join(ROOT, 'apps/api/src/migrate.ts'))).toBe(true);
    // the worker's source never runs migrations
    expect(readFileSync(join(ROOT, 'apps/worker/src/main.ts'), 'utf8')).not.toMatch(/runMigrations|migrationsRun/);
  });

  it('drives pm2 through ecosystem.config.js with the project’s own pm2', () => {
    for (const action of ['start', 'reload', 'stop', 'delete']) expect(scripts[`pm2:${action}`]).toBe(`pm2 ${action} ecosystem.config.js`);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.devDependencies.pm2).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
