import { randomBytes } from 'node:crypto';
import { generateSecret } from './webhook-signature';
import { SecretKeyMissing, SecretSealer, SecretUnreadable, sealedKeyId, secretKeyId } from './secret-sealer';

describe('secret sealer', () => {
  const key = randomBytes(32);
  const secret = generateSecret();

  it('seals into a versioned envelope that does not contain the secret, and opens it again', () => {
    const sealer = new SecretSealer(key);
    const stored = sealer.seal(secret, 'ep-1');
    expect(stored).toMatch(/^v1:[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(secret.slice(6, 20));
    expect(sealedKeyId(stored)).toBe(secretKeyId(key));
    expect(stored.length).toBeLessThanOrEqual(255);
    expect(sealer.open(stored, 'ep-1')).toBe(secret);
    // A fresh IV each time: the same secret never seals to the same text.
    expect(sealer.seal(secret, 'ep-1')).not.toBe(stored);
  });

  it('refuses a sealed value moved to another endpoint, altered, or under a key it was not given', () => {
    const sealer = new SecretSealer(key);
    const stored = sealer.seal(secret, 'ep-1');
    expect(() => sealer.open(stored, 'ep-2')).toThrow(SecretUnreadable);
    const flipped = stored.slice(0, -2) + (stored.endsWith('A') ? 'B' : 'A') + stored.slice(-1);
    expect(() => sealer.open(flipped, 'ep-1')).toThrow(SecretUnreadable);
    expect(() => new SecretSealer(randomBytes(32)).open(stored, 'ep-1')).toThrow(new RegExp(`key ${secretKeyId(key)}`));
  });

  it('opens values sealed under an old key, and calls them stale; plain legacy values are read as they are', () => {
    const old = randomBytes(32);
    const before = new SecretSealer(old).seal(secret, 'ep-1');
    const rotated = new SecretSealer(key, [old]);
    expect(rotated.open(before, 'ep-1')).toBe(secret);
    expect(rotated.stale(before)).toBe(true);
    expect(rotated.stale(rotated.seal(secret, 'ep-1'))).toBe(false);
    expect(rotated.open(secret, 'ep-1')).toBe(secret);
    expect(rotated.stale(secret)).toBe(true);
    expect(rotated.knownKeyIds().sort()).toEqual([secretKeyId(old), secretKeyId(key)].sort());
  });

  it('without a key stores plain where allowed and refuses where not (production)', () => {
    expect(new SecretSealer(null).seal(secret, 'ep-1')).toBe(secret);
    expect(new SecretSealer(null).stale(secret)).toBe(false);
    expect(() => new SecretSealer(null, [], false).seal(secret, 'ep-1')).toThrow(SecretKeyMissing);
  });
});
