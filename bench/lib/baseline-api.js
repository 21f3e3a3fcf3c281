'use strict';
/**
 * The enqueue baseline: bare Fastify and one BullMQ Queue on the same Redis, no Nest, no
 * ledger, no auth. `POST /v1/tasks` does `queue.add`, `POST /v1/tasks/batch` does `addBulk`,
 * with the same job options as Conveyor (see baseline-job.js). Env: PORT, REDIS_HOST,
 * REDIS_PORT, QUEUE_PREFIX. Prints "listening <port>" when ready.
 */
const Fastify = require('fastify');
const { Queue } = require('bullmq');
const { uuidv7 } = require('uuidv7');
const { QUEUE, NAME, jobData, jobOptions } = require('./baseline-job');

async function main() {
  const queue = new Queue(QUEUE, {
    connection: { host: process.env.REDIS_HOST, port: Number(process.env.REDIS_PORT), enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    prefix: process.env.QUEUE_PREFIX,
  });
  await queue.waitUntilReady();
  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  app.post('/v1/tasks', async (request, reply) => {
    const id = uuidv7();
    await queue.add(request.body?.type ?? NAME, jobData(request.body?.payload), jobOptions(id));
    reply.code(202);
    return { id, status: 'queued' };
  });
  app.post('/v1/tasks/batch', async (request, reply) => {
    const tasks = request.body?.tasks ?? [];
    const jobs = tasks.map((task) => ({ name: task.type ?? NAME, data: jobData(task.payload), opts: jobOptions(uuidv7()) }));
    await queue.addBulk(jobs);
    reply.code(202);
    return { tasks: jobs.map((job) => ({ id: job.opts.jobId, status: 'queued' })) };
  });
  app.get('/health/ready', async () => ({ status: 'ok' }));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.stdout.write(`listening ${process.env.PORT}\n`);
  const stop = async () => {
    await app.close();
    await queue.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
