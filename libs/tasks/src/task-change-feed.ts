import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { channelListeners, createRedisClient, type RedisClient } from '@conveyor/queue';

/** One channel per queue prefix, like the cancellation channel. */
export function taskChangesChannel(queuePrefix: string): string {
  return `${queuePrefix}:conveyor:task-changes`;
}

/** How long a publisher trusts its last look at whether anyone listens. */
const LISTENERS_CHECK_MS = 1000;

/**
 * Tells API processes which tasks' ledger rows just changed, so event streams read a row when
 * it changes instead of polling it. A message is a list of task ids, published after the commit
 * that changed them (one message per ledger flush). Redis pub/sub is at most once: a stream
 * still reads its row now and then (see TaskEventStreams), and reads every watched row again
 * when its subscription comes back after a disconnect. Publishing costs nothing when no API
 * process listens: the publisher asks Redis at most once a second whether anyone does.
 */
@Injectable()
export class TaskChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TaskChangeFeed.name);
  private readonly channel: string;
  private publisher?: RedisClient;
  private subscriber?: RedisClient;
  /** Until Redis says otherwise: a publish too many costs less than a change unheard. */
  private listeners = true;
  private listenersCheckedAt = 0;
  private checking = false;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.channel = taskChangesChannel(config.queuePrefix);
  }

  /**
   * Connects at boot: the publisher's commands are not queued while it connects (a producer
   * connection fails fast), so a connection made at the first publish would lose that message.
   */
  onModuleInit(): void {
    this.publisher = this.connect('producer', 'conveyor:task-changes:pub');
    this.refreshListeners(this.publisher);
  }

  /** Fire and forget: a change nobody hears of is read by the streams' next look anyway. */
  publish(ids: Iterable<string>): void {
    const list = [...ids];
    const client = this.publisher;
    if (list.length === 0 || !client) return;
    this.refreshListeners(client);
    if (!this.listeners) return;
    client.publish(this.channel, list.join(',')).catch(() => undefined);
  }

  /**
   * Calls `changed` with the ids of each message, and `resync` whenever the subscription comes
   * back after a disconnect (messages of the gap are lost). One subscriber per process.
   */
  async subscribe(changed: (ids: string[]) => void, resync: () => void): Promise<void> {
    if (this.subscriber) throw new Error('the task change feed has one subscriber per process');
    const subscriber = this.connect('worker', 'conveyor:task-changes:sub');
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('ready', () => {
      // ioredis subscribes again by itself after a reconnect; what was missed meanwhile is read now.
      if (connectedBefore) resync();
      connectedBefore = true;
    });
    subscriber.on('message', (_channel: string, message: string) => changed(message.split(',')));
    await subscriber.subscribe(this.channel);
  }

  onApplicationShutdown(): void {
    // disconnect, not quit: quit waits for a server that may be gone, and nothing here needs flushing.
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }

  private connect(role: 'producer' | 'worker', connectionName: string): RedisClient {
    const client = createRedisClient(this.config.redis, role, { connectionName });
    client.on('error', (error: Error) => this.logger.debug({ err: error }, 'task change feed: redis error'));
    return client;
  }

  private refreshListeners(client: RedisClient): void {
    if (this.checking || Date.now() - this.listenersCheckedAt < LISTENERS_CHECK_MS) return;
    this.checking = true;
    channelListeners(client, this.channel)
      .then((count) => {
        this.listeners = count > 0;
      })
      .catch(() => undefined)
      .finally(() => {
        this.listenersCheckedAt = Date.now();
        this.checking = false;
      });
  }
}
