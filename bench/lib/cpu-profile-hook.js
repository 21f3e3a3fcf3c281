'use strict';
/**
 * Preloaded with `node -r bench/lib/cpu-profile-hook.js <app>` to CPU-profile a window of a
 * running app. `node --cpu-prof` writes its profile only on a normal exit, and our apps end on
 * SIGTERM by re-raising the signal (exit 143), which skips it; this hook drives the same V8
 * sampling profiler through node:inspector instead and writes the same `.cpuprofile` JSON.
 * It listens on 127.0.0.1:CPU_PROFILE_PORT: `POST /start` starts sampling, `POST /stop` writes
 * the profile to CPU_PROFILE_FILE and answers its path. Nothing else in the app changes.
 */
const http = require('node:http');
const fs = require('node:fs');
const inspector = require('node:inspector');

const port = Number(process.env.CPU_PROFILE_PORT);
const file = process.env.CPU_PROFILE_FILE;
const intervalUs = Number(process.env.CPU_PROFILE_INTERVAL_US ?? 1000);

if (port && file) {
  const session = new inspector.Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  const server = http.createServer(async (req, res) => {
    try {
      if (req.method === 'POST' && req.url === '/start') {
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: intervalUs });
        await post('Profiler.start');
        res.end('started');
      } else if (req.method === 'POST' && req.url === '/stop') {
        const { profile } = await post('Profiler.stop');
        fs.writeFileSync(file, JSON.stringify(profile));
        res.end(file);
      } else {
        res.statusCode = 404;
        res.end();
      }
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
