import { createIORedisClient, RedisConnection, type RedisOptions } from 'bullmq';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import type { RedisConfig, RedisNode } from '@conveyor/config';

/**
 * The one place Conveyor builds Redis connections: a single server, a master found through
 * Sentinel, or a Redis Cluster (see RedisConfig). BullMQ Queues and Workers get
 * redisConnectionOptions and make their clients through the factory installed below; every
 * other client comes from createRedisClient.
 */

/**
 * Longest a producer-role command waits for Redis's answer. A frozen Redis (paused, swapping,
 * stuck in a long script) would otherwise hold every caller forever: a cancel, `GET /v1/queues`,
 * the dashboard. Past it the call fails as an `unknown` outcome (see redisFailureOf).
 */
export const PRODUCER_COMMAND_TIMEOUT_MS = 5000;

export type RedisRole = 'producer' | 'worker';
/** A connection of either kind; both have the same command methods, pub/sub included. */
export type RedisClient = Redis | Cluster;

/** Reconnect forever with a capped delay: a Redis restart or failover must not kill the process. */
const reconnectDelay = (times: number) => Math.min(times * 200, 2000);

/**
 * Connection options for one server or a Sentinel-managed master. Producers fail fast when
 * Redis is away (`enableOfflineQueue: false`), so an enqueue answers 503 instead of hanging, and
 * give up on an unanswered command after PRODUCER_COMMAND_TIMEOUT_MS; workers use BullMQ's own
 * blocking-connection defaults (it forces `maxRetriesPerRequest: null`). On a cluster these are
 * the options of each node's connection (see createRedisClient).
 */
export function redisConnectionOptions(redis: RedisConfig, role: RedisRole): RedisOptions {
  return {
    // Read by createRedisClient (and so by BullMQ's client factory): connect to a cluster.
    ...(redis.clusterNodes ? { clusterNodes: redis.clusterNodes } : {}),
    ...(redis.sentinel
      ? {
          sentinels: redis.sentinel.nodes,
          name: redis.sentinel.name,
          ...(redis.sentinel.password ? { sentinelPassword: redis.sentinel.password } : {}),
          // No failoverDetector: its disconnect on +switch-master can land while a reconnect is
          // asking the sentinels, and ioredis then ends the client for good ("Connection is
          // closed"). The dead master's dropped connection is what sends the client to the sentinels.
        }
      : { host: redis.host, port: redis.port }),
    db: redis.db,
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tls ? { tls: {} } : {}),
    ...(role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS }
      : { maxRetriesPerRequest: null }),
    retryStrategy: reconnectDelay,
  };
}

/**
 * A Redis client for `role`, with `overrides` on top (connectionName, commandTimeout,
 * lazyConnect, retryStrategy, ...). On a cluster the options that belong to the cluster as a
 * whole (offline queue, lazy connect, retry strategy) go there, the rest to each node's connection.
 */
export function createRedisClient(redis: RedisConfig, role: RedisRole, overrides: RedisOptions = {}): RedisClient {
  return clientFrom({ ...redisConnectionOptions(redis, role), ...overrides });
}

function clientFrom(options: RedisOptions): RedisClient {
  const { clusterNodes, url, ...rest } = options as RedisOptions & { clusterNodes?: RedisNode[] };
  if (!clusterNodes) return url ? new Redis(url, rest) : new Redis(rest);
  const { enableOfflineQueue, lazyConnect, retryStrategy, db: _db, host: _host, port: _port, ...nodeOptions } = rest;
  const clusterOptions: ClusterOptions = {
    redisOptions: nodeOptions,
    enableOfflineQueue,
    lazyConnect,
    clusterRetryStrategy: retryStrategy,
    // A failover moves slots: commands follow MOVED/ASK and CLUSTERDOWN instead of failing at once.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
  };
  return new Cluster(clusterNodes, clusterOptions);
}

/**
 * BullMQ makes every client of a Queue, Worker or FlowProducer from its connection options
 * through this factory (its documented extension point), so it also owns and closes the
 * cluster clients; without the `clusterNodes` option it makes the ioredis client it would anyway.
 */
RedisConnection.clientFactory = (options) => createIORedisClient(clientFrom(options));

/**
 * How many clients listen on `channel`. On a cluster PUBLISH reaches every node but NUMSUB
 * counts one node's subscribers only, so the counts of all nodes are added up.
 */
export async function channelListeners(client: RedisClient, channel: string): Promise<number> {
  const nodes = client instanceof Cluster ? client.nodes('all') : [client];
  const counts = await Promise.all(nodes.map(async (node) => Number(((await node.pubsub('NUMSUB', channel)) as [string, number])[1])));
  return counts.reduce((sum, count) => sum + count, 0);
}
