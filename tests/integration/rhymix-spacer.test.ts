// Covers the Redis spacer on a real redis-server: turns across separate connections (processes) stay the interval apart, and a key without expiry cannot block writers.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSpacer, spacerKey } from '../../src/publish/rhymix/redis-spacer.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
const clients: Redis[] = [];
function client(): Redis {
  const c = new Redis(redis.url);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of clients) await c.quit();
  await redis.close();
});

describe('RedisSpacer', () => {
  it('keeps turns of three "processes" at least the interval apart', async () => {
    const key = spacerKey(freshPrefix(), 'https://board.example.kr/xe');
    const spacers = [0, 1, 2].map(() => new RedisSpacer(client(), { key, intervalMs: 120 }));
    const times: number[] = [];
    await Promise.all(
      spacers.flatMap((spacer) =>
        [0, 1].map(async () => {
          await spacer.waitTurn();
          times.push(performance.now());
        }),
      ),
    );
    times.sort((a, b) => a - b);
    expect(times).toHaveLength(6);
    // Redis enforces the interval between SETs; we see each turn when its reply is handled, which
    // a busy event loop can delay by a few ms. So each gap gets slack, and the whole span (where
    // such delays do not add up) is checked tightly. Without spacing the gaps would be ~0 ms.
    for (let i = 1; i < times.length; i++) {
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(90);
    }
    expect((times[5] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(5 * 120 - 15);
  });

  it('names the key after the site host, so every board of one site shares the spam filter spacing', () => {
    expect(spacerKey('isw-ko', 'https://Board.Example.kr/xe')).toBe('isw-ko:rhymix-spacer:board.example.kr');
  });

  it('repairs a key left without expiry instead of blocking for ever', async () => {
    const key = spacerKey(freshPrefix(), 'https://stuck.example');
    const c = client();
    await c.set(key, 'by-hand');
    const started = performance.now();
    await new RedisSpacer(c, { key, intervalMs: 80 }).waitTurn();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await c.pttl(key)).toBeGreaterThan(0);
  });

  it('does not touch Redis with a zero interval', async () => {
    const key = spacerKey(freshPrefix(), 'https://zero.example');
    const c = client();
    await new RedisSpacer(c, { key, intervalMs: 0 }).waitTurn();
    expect(await c.exists(key)).toBe(0);
  });
});
