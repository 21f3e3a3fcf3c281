import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/dockerfile';

/**
 * scripts/logrotate.conf, run by the real logrotate on a temp copy of the logs directory while
 * a process keeps appending to the log through one open descriptor, as the worker under
 * start-worker.sh (>>) and pm2 do: rotation must not lose the writer or leave a sparse file.
 */
const CONF = readFileSync(join(ROOT, 'scripts/logrotate.conf'), 'utf8');
const logrotate = spawnSync('logrotate', ['--version'], { encoding: 'utf8' });
const available = !logrotate.error && logrotate.status === 0;

describe('scripts/logrotate.conf', () => {
  it('rotates every *.log of the default logs directory with copytruncate, compression and retention', () => {
    expect(CONF).toMatch(/^\/opt\/conveyor\/logs\/\*\.log \{$/m);
    for (const directive of ['copytruncate', 'compress', 'delaycompress', 'missingok', 'notifempty'])
      expect(CONF).toMatch(new RegExp(`^\\s+${directive}$`, 'm'));
    expect(CONF).toMatch(/^\s+rotate \d+$/m);
    expect(CONF).toMatch(/^\s+maxsize \d+[kMG]?$/m);
    // the default directories of both writers are <project>/logs, which the install line rewrites
    expect(readFileSync(join(ROOT, 'scripts/start-worker.sh'), 'utf8')).toMatch(/WORKER_LOG_DIR:-\$ROOT\/logs/);
    expect(readFileSync(join(ROOT, 'ecosystem.config.js'), 'utf8')).toMatch(/setting\('LOG_DIR'\) \|\| 'logs'/);
  });

  (available ? it : it.skip)('keeps an appending writer writing at the start of the emptied file (logrotate run for real)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-logrotate-'));
    const logs = join(dir, 'logs');
    const conf = join(dir, 'conveyor.conf');
    const state = join(dir, 'state');
    spawnSync('mkdir', ['-m', '0755', logs]);
    writeFileSync(conf, CONF.replaceAll('/opt/conveyor/logs', logs), { mode: 0o644 });
    const log = join(logs, 'worker.log');
    writeFileSync(log, 'x'.repeat(64 * 1024) + '\n');
    // one descriptor opened for appending, like `node main.js >>worker.log`
    const writer = spawn(process.execPath, [
      '-e',
      `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(log)},'a');let n=0;setInterval(()=>fs.writeSync(fd,'line '+(n++)+'\\n'),5);`,
    ]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const first = spawnSync('logrotate', ['-f', '-s', state, conf], { encoding: 'utf8' });
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 200));

      const rotated = readdirSync(logs).filter((f) => f.startsWith('worker.log-'));
      expect(rotated).toHaveLength(1);
      expect(readFileSync(join(logs, rotated[0]), 'utf8').startsWith('x'.repeat(100))).toBe(true);
      const current = readFileSync(log);
      expect(current.length).toBeGreaterThan(0);
      expect(current.length).toBeLessThan(32 * 1024); // emptied, not copied over
      expect(current[0]).not.toBe(0); // no hole of NUL bytes: the writer appends at the new end
      expect(current.toString()).toMatch(/^line \d+\n/);

      await new Promise((resolve) => setTimeout(resolve, 1100)); // a new date extension (seconds)
      const second = spawnSync('logrotate', ['-f', '-s', state, conf], { encoding: 'utf8' });
      expect(second.status).toBe(0);
      const after = readdirSync(logs)
        .filter((f) => f.startsWith('worker.log-'))
        .sort();
      expect(after).toHaveLength(2);
      expect(after.filter((f) => f.endsWith('.gz'))).toHaveLength(1); // delaycompress: the older one
      expect(statSync(log).size).toBeLessThan(32 * 1024);
    } finally {
      writer.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
