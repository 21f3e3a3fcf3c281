import { Cluster, Redis } from 'ioredis';
import type { RedisConfig } from '@conveyor/config';
import { createRedisClient, redisConnectionOptions } from './redis-connection';

const server: RedisConfig = { host: 'cache.local', port: 6380, db: 3, tls: false, password: 'pw' };

describe('redis connections', () => {
  const made: Array<Redis | Cluster> = [];
  const make = (...args: Parameters<typeof createRedisClient>) => {
    const client = createRedisClient(args[0], args[1], { lazyConnect: true, ...args[2] });
    made.push(client);
    return client;
  };
  // Lazy clients never connected: disconnecting them is all the cleanup there is.
  afterEach(() => made.splice(0).forEach((client) => client.disconnect()));

  it('gives producers fail-fast options and workers blocking-safe ones', () => {
    expect(redisConnectionOptions(server, 'producer')).toMatchObject({
      host: 'cache.local',
      port: 6380,
      db: 3,
      password: 'pw',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    expect(redisConnectionOptions(server, 'worker')).toMatchObject({ maxRetriesPerRequest: null });
  });

  it('asks the sentinels for the master instead of connecting to host:port', () => {
    const options = redisConnectionOptions({ ...server, sentinel: { nodes: [{ host: 's1', port: 26379 }], name: 'm', password: 'spw' } }, 'worker');
    expect(options).toMatchObject({ sentinels: [{ host: 's1', port: 26379 }], name: 'm', sentinelPassword: 'spw', password: 'pw' });
    expect(options.host).toBeUndefined();
    const client = make({ ...server, sentinel: { nodes: [{ host: 's1', port: 26379 }], name: 'm' } }, 'producer');
    expect(client).toBeInstanceOf(Redis);
  });

  it('builds a cluster client: cluster-wide options on the cluster, the rest on each node, no db', () => {
    const client = make({ ...server, db: 0, clusterNodes: [{ host: 'n1', port: 7000 }] }, 'producer', { connectionName: 'test' });
    expect(client).toBeInstanceOf(Cluster);
    const { options } = client as Cluster;
    expect(options).toMatchObject({ enableOfflineQueue: false, lazyConnect: true });
    expect(options.clusterRetryStrategy?.(3)).toBe(600);
    expect(options.redisOptions).toMatchObject({ password: 'pw', connectionName: 'test', maxRetriesPerRequest: 1 });
    expect(options.redisOptions).not.toHaveProperty('db');
    expect(options.redisOptions).not.toHaveProperty('clusterNodes');
  });

  it('builds a plain client for one server', () => {
    const client = make(server, 'worker');
    expect(client).toBeInstanceOf(Redis);
    expect((client as Redis).options).toMatchObject({ host: 'cache.local', port: 6380, db: 3, maxRetriesPerRequest: null });
  });
});
