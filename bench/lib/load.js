'use strict';
/**
 * One autocannon run as its own process (so it can be pinned to a core of its own):
 * `node bench/lib/load.js '<json options>'` prints autocannon's result as one JSON line.
 * Options: url, method, headers, body, connections, duration (s), pipelining.
 */
const autocannon = require('autocannon');

const options = JSON.parse(process.argv[2]);
autocannon(
  {
    url: options.url,
    method: options.method ?? 'POST',
    headers: options.headers ?? {},
    body: options.body,
    connections: options.connections ?? 50,
    pipelining: options.pipelining ?? 1,
    duration: options.duration ?? 5,
    timeout: 10,
  },
  (error, result) => {
    if (error) {
      console.error(error);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
);
