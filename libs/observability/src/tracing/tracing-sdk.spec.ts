import { redisStatement } from './tracing-sdk';

describe('redisStatement', () => {
  it('names the command and counts its arguments, never showing them (job data travels in them)', () => {
    const payload = Buffer.from('{"secret":"tenant data"}');
    expect(redisStatement('evalsha', ['0123abcd', 8, 'bull:q:wait', payload])).toBe('evalsha [4 arguments]');
    expect(redisStatement('ping', [])).toBe('ping');
  });
});
