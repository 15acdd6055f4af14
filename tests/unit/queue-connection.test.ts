// Covers how BullMQ's error events are logged: a lost Redis connection (as ioredis really reports it) at warn, anything else at error.
import net from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isRedisConnectionError, logQueueError } from '../../src/queue/connection.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

describe('isRedisConnectionError', () => {
  it('recognises the errors ioredis gives while Redis is down', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port: await closedPort(),
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => undefined);
    const refused = await client.connect().catch((err: unknown) => err);
    expect(isRedisConnectionError(refused)).toBe(true);
    const closed = await client.ping().catch((err: unknown) => err);
    expect(closed).toBeInstanceOf(Error);
    expect(isRedisConnectionError(closed)).toBe(true);
    client.disconnect();
  });

  it('leaves every other error an error', () => {
    expect(isRedisConnectionError(new Error('ERR unknown command'))).toBe(false);
    expect(isRedisConnectionError(new Error('Missing lock for job 1. moveToFinished'))).toBe(false);
    expect(isRedisConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('logQueueError', () => {
  it('logs a lost connection at warn and anything else at error', () => {
    const lines: [string, string][] = [];
    const log = {
      warn: (_o: object, msg: string) => void lines.push(['warn', msg]),
      error: (_o: object, msg: string) => void lines.push(['error', msg]),
    };
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    logQueueError(log, refused, { queue: 'publish' }, 'worker');
    logQueueError(log, new Error('Missing key for job 7'), { queue: 'publish' }, 'worker');
    expect(lines).toEqual([
      ['warn', 'worker lost its redis connection; it resumes when redis is back'],
      ['error', 'worker error'],
    ]);
  });
});
