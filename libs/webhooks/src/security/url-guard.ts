import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** One address a name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address; injectable so tests can answer as a hostile DNS would. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;
export const WEBHOOK_RESOLVER = Symbol('WEBHOOK_RESOLVER');

export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

/** A URL the guard refused; `reason` says why in words a tenant can act on. */
export class WebhookUrlForbidden extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookUrlForbidden';
  }
}

/** Where a delivery may go: the URL and the one checked address to connect to (no second lookup). */
export interface CheckedTarget {
  url: URL;
  hostname: string;
  port: number;
  address: string;
  family: 4 | 6;
}

export interface UrlRules {
  allowHttp: boolean;
  /** Inclusive ranges; null = any port. */
  allowedPorts: Array<[number, number]> | null;
  /** CIDRs reachable although denied below. */
  allowedCidrs: string[];
}

/**
 * Ranges no delivery may reach (OWASP API7): this host, private networks, link-local (cloud
 * metadata at 169.254.169.254 and fd00:ec2::254 included), shared address space, multicast,
 * reserved, and the IPv6 forms that embed an IPv4 address (NAT64, 6to4, IPv4-compatible).
 * IPv4-mapped addresses (`::ffff:a.b.c.d`, in any spelling) are matched against the IPv4 rules
 * by BlockList itself.
 */
const DENIED: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 96, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

function cidrList(entries: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList();
  for (const [address, prefix, family] of entries) list.addSubnet(address, prefix, family);
  return list;
}

const DENY_LIST = cidrList(DENIED);

/**
 * The SSRF guard of webhook URLs, used at registration and before every attempt: https (http
 * only if allowed), no userinfo, an allowed port, and a host whose every address is outside
 * the deny list (or inside WEBHOOK_ALLOWED_CIDRS). The host is resolved once; the sender
 * connects to the address checked here, so a DNS answer that changes between the check and
 * the connection (rebinding) cannot redirect it.
 */
export class UrlGuard {
  private readonly allowList: BlockList;

  constructor(
    private readonly rules: UrlRules,
    private readonly resolve: Resolver = systemResolver,
  ) {
    this.allowList = cidrList(
      rules.allowedCidrs.map((cidr) => {
        const [address, prefix] = cidr.split('/');
        return [address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4'];
      }),
    );
  }

  /** The checks that need no DNS; returns the parsed URL. */
  parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new WebhookUrlForbidden('not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.rules.allowHttp)) {
      throw new WebhookUrlForbidden(this.rules.allowHttp ? 'the scheme must be https or http' : 'the scheme must be https');
    }
    if (url.username || url.password) throw new WebhookUrlForbidden('credentials in the URL (userinfo) are not allowed');
    if (!url.hostname) throw new WebhookUrlForbidden('the URL has no host');
    const port = portOf(url);
    const ports = this.rules.allowedPorts;
    if (ports && !ports.some(([low, high]) => port >= low && port <= high)) throw new WebhookUrlForbidden(`port ${port} is not allowed`);
    return url;
  }

  /** Every check; resolves the host once and returns the address to connect to. */
  async check(raw: string): Promise<CheckedTarget> {
    const url = this.parse(raw);
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const literal = isIP(hostname);
    let addresses: ResolvedAddress[];
    if (literal) addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolve(hostname);
      } catch {
        throw new WebhookUrlForbidden(`the host ${hostname} does not resolve`);
      }
      if (addresses.length === 0) throw new WebhookUrlForbidden(`the host ${hostname} does not resolve`);
    }
    // Every address, not only the one a client would pick: the next lookup may prefer another.
    for (const { address, family } of addresses) {
      if (this.denied(address, family)) throw new WebhookUrlForbidden(`${hostname} resolves to ${address}, a private or reserved address`);
    }
    const [first] = addresses;
    return { url, hostname, port: portOf(url), address: first.address, family: first.family };
  }

  denied(address: string, family: 4 | 6): boolean {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    return DENY_LIST.check(address, type) && !this.allowList.check(address, type);
  }
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
