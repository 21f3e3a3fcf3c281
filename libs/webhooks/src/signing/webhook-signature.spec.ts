import { Webhook } from 'standardwebhooks';
import { generateSecret, signedHeaders } from './webhook-signature';

/** Checked with the independent Standard Webhooks library receivers use, not with our own code. */
describe('webhook signatures', () => {
  const body = JSON.stringify({ id: 'msg_1', type: 'task.completed', timestamp: '2026-12-07T10:00:00.000Z', data: { é: 'ü' } });
  const now = () => Math.floor(Date.now() / 1000);

  it('secrets are whsec_ + base64 of 32 random bytes, each new', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
  });

  it('verify with the standardwebhooks library', () => {
    const secret = generateSecret();
    const headers = signedHeaders([secret], 'msg_1', now(), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('fail verification for a changed body, another id or another secret', () => {
    const secret = generateSecret();
    const headers = signedHeaders([secret], 'msg_1', now(), body);
    expect(() => new Webhook(secret).verify(body.replace('ü', 'u'), headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('carry both signatures during a rotation, each valid under its own secret', () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const headers = signedHeaders([current, previous], 'msg_1', now(), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toBeTruthy();
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
  });
});
