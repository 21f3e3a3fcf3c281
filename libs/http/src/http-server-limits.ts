import type { Server as HttpServer } from 'node:http';
import { BlockList, isIP, type Server, type Socket } from 'node:net';
import type { FastifyHttpOptions } from 'fastify';
import type { HttpServerConfig, TrustedProxies } from '@conveyor/config';

/**
 * Fastify options that bound how long a client may take to send a request. Fastify turns
 * Node's request timeout off (0) by default, so a body dripped in a byte at a time held its
 * connection (and a file descriptor) forever. Node answers an overdue request through the
 * server's `clientError` (our `clientErrorHandler`: 408 REQUEST_TIMEOUT, then close).
 * Handlers are not limited: the clock stops once the last byte of the request arrived.
 */
export function httpServerTimeoutOptions(
  http: HttpServerConfig,
): Pick<FastifyHttpOptions<HttpServer>, 'requestTimeout' | 'keepAliveTimeout' | 'trustProxy' | 'http'> {
  return {
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    trustProxy: http.trustProxy,
    http: {
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      // Node checks both timeouts every 30 s by default: a 2 s limit could take 32 s to bite.
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(Math.min(http.headersTimeoutMs, http.requestTimeoutMs) / 4))),
    },
  };
}

const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
  uniquelocal: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

/** Whether a connection's peer is one of the trusted proxies. */
export function trustedPeer(trustProxy: TrustedProxies): (address: string) => boolean {
  if (trustProxy === false) return () => false;
  const list = new BlockList();
  for (const entry of trustProxy) {
    for (const [network, prefix, family] of NAMED_RANGES[entry] ?? []) list.addSubnet(network, prefix, family);
    if (NAMED_RANGES[entry]) continue;
    const [address, bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    return mapped ? list.check(mapped, 'ipv4') : list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * Caps the connections one peer address holds open, so one client (slow or just greedy)
 * cannot take every file descriptor of the process. A connection over the cap is closed at
 * once, before a byte is read. Trusted proxies carry many clients' traffic and are exempt.
 */
export function capConnectionsPerAddress(server: Server, maxPerAddress: number, isTrustedProxy: (address: string) => boolean): void {
  if (maxPerAddress <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || isTrustedProxy(address)) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > maxPerAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
