import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { requestLogLevel, serializeRequest, serializeResponse } from './request-logging';

describe('request log lines', () => {
  it('describe the request with its secrets censored, from a Fastify request or a raw one', () => {
    const raw = {
      method: 'POST',
      url: '/v1/tasks?x=1',
      headers: { authorization: 'Bearer k', host: 'api' },
      socket: { remoteAddress: '10.0.0.1', remotePort: 4242 },
    };
    const fromFastify = serializeRequest({ raw, id: 'r-1', query: { x: '1' } } as unknown as FastifyRequest);
    expect(fromFastify).toEqual({
      id: 'r-1',
      method: 'POST',
      url: '/v1/tasks?x=1',
      query: { x: '1' },
      headers: { authorization: '[redacted]', host: 'api' },
      remoteAddress: '10.0.0.1',
      remotePort: 4242,
    });
    expect(raw.headers.authorization).toBe('Bearer k');
    expect(serializeRequest({ ...raw, id: 'r-2' } as never)).toMatchObject({ id: 'r-2', url: '/v1/tasks?x=1', remotePort: 4242 });
  });

  it('give the status only once it was sent, and censor cookies set', () => {
    const response = (headersSent: boolean) =>
      ({ headersSent, statusCode: 201, getHeaders: () => ({ 'set-cookie': 's=1', 'content-type': 'application/json' }) }) as unknown as ServerResponse;
    expect(serializeResponse(response(true))).toEqual({ statusCode: 201, headers: { 'set-cookie': '[redacted]', 'content-type': 'application/json' } });
    expect(serializeResponse(response(false)).statusCode).toBeNull();
  });

  it('log 5xx as errors, 4xx as warnings and the rest as info', () => {
    expect([200, 302, 400, 404, 499, 500, 503].map((status) => requestLogLevel(status))).toEqual(['info', 'info', 'warn', 'warn', 'warn', 'error', 'error']);
  });
});
