import { PassThrough, Writable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { DRAIN_LIMIT_BYTES, DRAIN_LIMIT_MS, drainUnreadBody } from './unread-body';

/** A request body stream as Node hands it over, with the socket it arrives on. */
function halfReadRequest(options: { complete?: boolean } = {}) {
  const raw = Object.assign(new PassThrough(), { complete: options.complete ?? false, socket: { destroy: jest.fn() } });
  return { raw, request: { raw } as unknown as FastifyRequest };
}

describe('drainUnreadBody', () => {
  afterEach(() => jest.useRealTimers());

  it('reads the rest of a paused body to its end and leaves the connection open', async () => {
    const { raw, request } = halfReadRequest();
    raw.write(Buffer.alloc(1024));
    drainUnreadBody(request);
    raw.end(Buffer.alloc(1024));
    await new Promise((resolve) => raw.once('end', resolve));
    expect(raw.readableEnded).toBe(true);
    expect(raw.socket.destroy).not.toHaveBeenCalled();
  });

  it('takes the body away from a parser still attached to it', async () => {
    const { raw, request } = halfReadRequest();
    const stalledParser = new Writable({ highWaterMark: 1, write: () => undefined });
    raw.pipe(stalledParser);
    raw.write(Buffer.alloc(64 * 1024));
    drainUnreadBody(request);
    raw.end(Buffer.alloc(64 * 1024));
    await new Promise((resolve) => raw.once('end', resolve));
    expect(raw.readableEnded).toBe(true);
  });

  it('cuts the connection once more than the byte limit has been dropped', () => {
    const { raw, request } = halfReadRequest();
    drainUnreadBody(request);
    raw.write(Buffer.alloc(DRAIN_LIMIT_BYTES));
    expect(raw.socket.destroy).not.toHaveBeenCalled();
    raw.write(Buffer.alloc(1));
    expect(raw.socket.destroy).toHaveBeenCalledTimes(1);
  });

  it('cuts the connection of a client still sending after the time limit', () => {
    jest.useFakeTimers();
    const { raw, request } = halfReadRequest();
    drainUnreadBody(request);
    raw.write('still coming');
    jest.advanceTimersByTime(DRAIN_LIMIT_MS - 1);
    expect(raw.socket.destroy).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(raw.socket.destroy).toHaveBeenCalledTimes(1);
  });

  it('leaves a body that is complete with nothing left unread alone', () => {
    jest.useFakeTimers();
    const complete = halfReadRequest({ complete: true });
    const resume = jest.spyOn(complete.raw, 'resume');
    drainUnreadBody(complete.request);
    expect(resume).not.toHaveBeenCalled();
    jest.advanceTimersByTime(DRAIN_LIMIT_MS);
    expect(complete.raw.socket.destroy).not.toHaveBeenCalled();
  });
});
