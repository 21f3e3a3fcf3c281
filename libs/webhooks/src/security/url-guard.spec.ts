import { UrlGuard, WebhookUrlForbidden, type Resolver } from './url-guard';

const PUBLIC = '93.184.215.14';
const staticResolver =
  (answers: Record<string, string[]>): Resolver =>
  async (hostname) =>
    (answers[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

const guard = (rules: Partial<ConstructorParameters<typeof UrlGuard>[0]> = {}, resolver: Resolver = staticResolver({})) =>
  new UrlGuard({ allowHttp: false, allowedPorts: [[443, 443]], allowedCidrs: [], ...rules }, resolver);

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WebhookUrlForbidden) return error.reason;
    throw error;
  }
  return 'allowed';
}

/** An IPv4 address in its IPv4-mapped IPv6 spellings. */
const mapped = (v4: string) => {
  const [a, b, c, d] = v4.split('.').map(Number);
  return [`::ffff:${v4}`, `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`, `0:0:0:0:0:ffff:${v4}`];
};

describe('UrlGuard', () => {
  const DENIED_V4 = [
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '127.255.0.9',
    '169.254.169.254',
    '169.254.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '192.168.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
  ];

  it.each(DENIED_V4)('refuses %s as a literal and in every IPv4-mapped IPv6 form', async (address) => {
    const g = guard();
    expect(await reason(g.check(`https://${address}/hook`))).toMatch(/private or reserved/);
    for (const form of mapped(address)) expect(await reason(g.check(`https://[${form}]/hook`))).toMatch(/private or reserved/);
  });

  it.each(['::1', '::', 'fc00::1', 'fd00:ec2::254', 'fe80::1', 'ff02::1', '64:ff9b::7f00:1', '2002:7f00:1::1'])('refuses IPv6 %s', async (address) => {
    expect(await reason(guard().check(`https://[${address}]/`))).toMatch(/private or reserved/);
  });

  it('accepts public addresses (literal, mapped, IPv6) and the ranges just outside the private ones', async () => {
    const g = guard();
    for (const address of [PUBLIC, '100.128.0.1', '172.32.0.1', '11.0.0.1', '169.255.0.1', '223.255.255.255']) {
      expect(await reason(g.check(`https://${address}/`))).toBe('allowed');
    }
    expect(await reason(g.check(`https://[::ffff:${PUBLIC}]/`))).toBe('allowed');
    expect(await reason(g.check('https://[2606:4700::1111]/'))).toBe('allowed');
  });

  it('reads the odd IPv4 spellings the URL parser normalises (decimal, hex, short)', async () => {
    for (const url of ['https://2130706433/', 'https://0x7f.1/', 'https://127.1/', 'https://0177.0.0.1/']) {
      expect(await reason(guard().check(url))).toMatch(/127\.0\.0\.1.*private or reserved/);
    }
  });

  it('refuses a name when any of its addresses is denied, not only the first', async () => {
    const resolver = staticResolver({ 'mixed.example': [PUBLIC, '10.1.2.3'], 'inward.example': ['127.0.0.1'], 'ok.example': [PUBLIC] });
    expect(await reason(guard({}, resolver).check('https://mixed.example/'))).toMatch(/10\.1\.2\.3/);
    expect(await reason(guard({}, resolver).check('https://inward.example/'))).toMatch(/127\.0\.0\.1/);
    expect(await reason(guard({}, resolver).check('https://nowhere.example/'))).toMatch(/does not resolve/);
    const target = await guard({}, resolver).check('https://ok.example/x?y=1');
    expect(target).toMatchObject({ hostname: 'ok.example', address: PUBLIC, family: 4, port: 443 });
  });

  it('returns the checked address, so a rebinding resolver cannot change it afterwards', async () => {
    let calls = 0;
    const rebinding: Resolver = async () => [{ address: calls++ === 0 ? PUBLIC : '127.0.0.1', family: 4 }];
    const g = guard({}, rebinding);
    expect((await g.check('https://rebind.example/')).address).toBe(PUBLIC);
    // The next check (the next attempt) resolves afresh and sees the private answer.
    expect(await reason(g.check('https://rebind.example/'))).toMatch(/127\.0\.0\.1/);
  });

  it('lets the allow list reach private ranges on purpose, in both forms', async () => {
    const g = guard({ allowedCidrs: ['127.0.0.0/8', 'fd12::/16'] });
    expect(await reason(g.check('https://127.0.0.1/'))).toBe('allowed');
    expect(await reason(g.check('https://[::ffff:127.0.0.1]/'))).toBe('allowed');
    expect(await reason(g.check('https://[fd12::5]/'))).toBe('allowed');
    expect(await reason(g.check('https://10.0.0.1/'))).toMatch(/private or reserved/);
  });

  it('refuses userinfo, http unless allowed, other schemes, and ports outside the set', async () => {
    expect(await reason(guard().check(`https://user:pw@${PUBLIC}/`))).toMatch(/userinfo/);
    expect(await reason(guard().check(`https://user@${PUBLIC}/`))).toMatch(/userinfo/);
    expect(await reason(guard().check(`http://${PUBLIC}/`))).toMatch(/must be https/);
    expect(await reason(guard({ allowHttp: true, allowedPorts: null }).check(`http://${PUBLIC}/`))).toBe('allowed');
    expect(await reason(guard({ allowHttp: true }).check(`ftp://${PUBLIC}/`))).toMatch(/https or http/);
    expect(await reason(guard().check(`https://${PUBLIC}:22/`))).toMatch(/port 22/);
    expect(await reason(guard({ allowedPorts: [[8000, 8999]] }).check(`https://${PUBLIC}:8443/`))).toBe('allowed');
    expect(await reason(guard().check('not a url'))).toMatch(/valid absolute URL/);
  });
});
