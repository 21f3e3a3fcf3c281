'use strict';
/** What the launcher prints once everything is up: where each thing is, and how to stop. */
const path = require('node:path');
const { relativeToRoot } = require('./common');

function printBanner({ ports, database, redis, adminKey }) {
  const api = `http://localhost:${ports.api}`;
  const worker = `http://localhost:${ports.worker}`;
  const rule = '─'.repeat(78);
  const rows = [
    ['API', api],
    [
      'Admin API key',
      adminKey.generated ? `${adminKey.key}  (generated; also in ${relativeToRoot(path.join(adminKey.dataDir, 'dev-admin-key'))})` : 'CONVEYOR_ADMIN_KEY',
    ],
    [
      'Create a task',
      `curl -s -X POST localhost:${ports.api}/v1/tasks -H 'authorization: Bearer ${adminKey.generated ? adminKey.key : '$CONVEYOR_ADMIN_KEY'}' ` +
        `-H 'content-type: application/json' -d '{"type":"system.sleep","payload":{"ms":300}}'`,
    ],
    ['Console', `${api}/console/  (sign in with the admin key)`],
    ['API docs', `${api}/docs`],
    ['Queue dashboard', `${api}/admin/queues`],
    ['Worker health', `${worker}/health/ready`],
    ['Metrics', `${api}/metrics (API)   ${worker}/metrics (worker)`],
    ['Database', database.description],
    ['Redis', redis.description],
    ['Stop', 'Ctrl-C'],
  ];
  const lines = [rule, ' Conveyor is running', '', ...rows.map(([k, v]) => `  ${k.padEnd(16)}${v}`), rule];
  process.stdout.write(`${lines.join('\n')}\n`);
}

module.exports = { printBanner };
