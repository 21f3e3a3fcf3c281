import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget } from '../security/url-guard';

/** Agents kept (one per target); the least recently used beyond it is dropped, its idle sockets close themselves. */
const MAX_AGENTS = 512;
/** An idle connection closes after this (or sooner, as the receiver's Keep-Alive header asks): under common server defaults (5 s). */
const IDLE_MS = 4000;

/** A lookup that answers with the address the guard checked: the connection goes there and nowhere else. */
export function pinnedLookup(target: CheckedTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
}

/**
 * Keep-alive connections per delivery target, so consecutive deliveries to a receiver skip the
 * TCP (and TLS) handshake. An agent is keyed by scheme, host name, port and the *checked
 * address*, and connects only there (pinned lookup): a pooled connection always leads to the
 * address the SSRF guard approved for this very attempt, so reuse never bypasses the guard,
 * which still runs before every attempt. Concurrency per endpoint stays bounded by the
 * endpoint slots, not here.
 */
export class TargetAgents {
  private readonly agents = new Map<string, HttpAgent>();

  agentFor(target: CheckedTarget): HttpAgent {
    const https = target.url.protocol === 'https:';
    const key = `${https ? 's' : 'p'}|${target.hostname}|${target.port}|${target.address}`;
    let agent = this.agents.get(key);
    if (agent) {
      // Most recently used last: a Map keeps insertion order.
      this.agents.delete(key);
      this.agents.set(key, agent);
      return agent;
    }
    const options = { keepAlive: true, timeout: IDLE_MS, scheduling: 'lifo' as const, lookup: pinnedLookup(target) };
    agent = https ? new HttpsAgent(options) : new HttpAgent(options);
    this.agents.set(key, agent);
    if (this.agents.size > MAX_AGENTS) this.agents.delete(this.agents.keys().next().value!);
    return agent;
  }

  /** Closes every pooled connection (shutdown). */
  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
