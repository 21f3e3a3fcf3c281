import { ReplyError } from 'ioredis';
import { pipelineFailureOf, redisFailureOf } from './redis-outcome';

describe('redisFailureOf', () => {
  it('calls a command ioredis never sent, or one Redis answered with an error, refused', () => {
    expect(redisFailureOf(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('refused');
    expect(redisFailureOf(new ReplyError('OOM command not allowed when used memory > maxmemory'))).toBe('refused');
  });

  it('calls anything else unknown: the command may have reached Redis', () => {
    expect(redisFailureOf(new Error('Connection is closed.'))).toBe('unknown');
    expect(redisFailureOf(new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'))).toBe(
      'unknown',
    );
    expect(redisFailureOf(new Error('enqueue took longer than 2000 ms'))).toBe('unknown');
    expect(redisFailureOf('weird')).toBe('unknown');
  });
});

describe('pipelineFailureOf', () => {
  it('calls a pipeline refused only when ioredis never sent it: an error answer concerns one of its commands', () => {
    expect(pipelineFailureOf(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('refused');
    expect(pipelineFailureOf(new ReplyError('OOM command not allowed when used memory > maxmemory'))).toBe('unknown');
    expect(pipelineFailureOf(new Error('Connection is closed.'))).toBe('unknown');
  });
});
