import { createServer, connect, type Server, type Socket } from 'node:net';
import { capConnectionsPerAddress, httpServerTimeoutOptions, trustedPeer } from './http-server-limits';

describe('trustedPeer', () => {
  it('trusts nobody without TRUST_PROXY', () => {
    expect(trustedPeer(false)('127.0.0.1')).toBe(false);
  });

  it('matches listed addresses, CIDRs, names and IPv4-mapped IPv6 peers', () => {
    const trusted = trustedPeer(['10.0.0.1', '192.168.4.0/24', 'fd00::/8', 'loopback']);
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.4.200', 'fd12::1', '127.0.0.9', '::1'])
      expect({ address, trusted: trusted(address) }).toEqual({ address, trusted: true });
    for (const address of ['10.0.0.2', '192.168.5.1', 'fe80::1', '8.8.8.8'])
      expect({ address, trusted: trusted(address) }).toEqual({ address, trusted: false });
  });
});

describe('httpServerTimeoutOptions', () => {
  it('checks the timeouts often enough for them to bite on time', () => {
    const options = httpServerTimeoutOptions({
      headersTimeoutMs: 1000,
      requestTimeoutMs: 2000,
      keepAliveTimeoutMs: 5000,
      maxConnectionsPerAddress: 0,
      reusePort: false,
      trustProxy: false,
    });
    expect(options).toMatchObject({ requestTimeout: 2000, keepAliveTimeout: 5000, trustProxy: false, http: { headersTimeout: 1000, requestTimeout: 2000 } });
    expect(options.http!.connectionsCheckingInterval).toBeLessThanOrEqual(250);
  });
});

describe('capConnectionsPerAddress', () => {
  let server: Server;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** Opens a connection: true when the server greets it, false when the server closes it. */
  async function opens(port: number, localAddress: string): Promise<boolean> {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    sockets.push(socket);
    return new Promise((resolve) => {
      socket.once('data', () => resolve(true));
      socket.once('close', () => resolve(false));
      socket.once('error', () => resolve(false));
    });
  }

  async function listen(max: number, trusted: (address: string) => boolean): Promise<number> {
    // The greeting goes out after every connection listener ran (the cap's included).
    server = createServer((socket) => setImmediate(() => socket.destroyed || socket.write('hi')));
    capConnectionsPerAddress(server, max, trusted);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('closes connections over the cap per address, frees a slot when one closes, exempts trusted proxies', async () => {
    const port = await listen(2, (address) => address === '127.0.0.3');
    expect([await opens(port, '127.0.0.1'), await opens(port, '127.0.0.1'), await opens(port, '127.0.0.1')]).toEqual([true, true, false]);
    expect(await opens(port, '127.0.0.2')).toBe(true);
    sockets[0].destroy();
    // The server sees the close a moment after the client: retry until the slot is free.
    let reopened = false;
    for (let attempt = 0; attempt < 100 && !reopened; attempt += 1) {
      reopened = await opens(port, '127.0.0.1');
      if (!reopened) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(reopened).toBe(true);
    expect(await Promise.all([1, 2, 3, 4].map(() => opens(port, '127.0.0.3')))).toEqual([true, true, true, true]);
  });
});
