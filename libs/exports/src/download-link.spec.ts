import { DownloadLinks } from './download-link';

const ID = '01936f7c-0000-7000-8000-000000000001';
const NOW = Date.UTC(2030, 0, 1);

describe('download links', () => {
  const links = new DownloadLinks('k'.repeat(16) + 'another-part-0123456789');
  const expires = NOW / 1000 + 60;
  const signed = links.sign('acme', ID, expires);
  const query = { tenant: signed.tenant, expires: String(signed.expires), signature: signed.signature };

  it('accepts the link as signed, until its expiry', () => {
    expect(links.check(ID, query, NOW)).toBe('valid');
    expect(links.check(ID, query, expires * 1000 - 1)).toBe('valid');
    expect(links.check(ID, query, expires * 1000)).toBe('expired');
  });

  it('refuses any altered part as invalid (a pushed-back expiry too), and a missing or malformed one', () => {
    expect(links.check(ID, { ...query, expires: String(expires + 3600) }, NOW)).toBe('invalid');
    expect(links.check(ID, { ...query, tenant: 'other' }, NOW)).toBe('invalid');
    expect(links.check('01936f7c-0000-7000-8000-000000000002', query, NOW)).toBe('invalid');
    const flipped = query.signature.slice(0, -1) + (query.signature.endsWith('A') ? 'B' : 'A');
    expect(links.check(ID, { ...query, signature: flipped }, NOW)).toBe('invalid');
    expect(links.check(ID, { ...query, signature: undefined }, NOW)).toBe('invalid');
    expect(links.check(ID, { ...query, expires: '1e99' }, NOW)).toBe('invalid');
    expect(links.check(ID, { ...query, signature: ['a'] }, NOW)).toBe('invalid');
  });

  it('does not verify under another secret', () => {
    expect(new DownloadLinks('z'.repeat(40)).check(ID, query, NOW)).toBe('invalid');
  });
});
