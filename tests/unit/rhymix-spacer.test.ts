// Covers the in-process spacer: turns in call order, at least the interval apart, none for a zero interval.
import { describe, expect, it } from 'vitest';
import { MemorySpacer } from '../../src/publish/rhymix/spacer.js';

describe('MemorySpacer', () => {
  it('hands out concurrent turns at least the interval apart, in call order', async () => {
    const spacer = new MemorySpacer(40);
    const times: [number, number][] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        await spacer.waitTurn();
        times.push([i, performance.now()]);
      }),
    );
    expect(times.map(([i]) => i)).toEqual([0, 1, 2, 3]);
    // A busy event loop can run one timer late and the next on time: slack per gap, and a tight
    // check on the whole span, where such delays do not add up. Without spacing gaps are ~0 ms.
    for (let k = 1; k < times.length; k++) {
      expect((times[k]?.[1] ?? 0) - (times[k - 1]?.[1] ?? 0)).toBeGreaterThanOrEqual(25);
    }
    expect((times[3]?.[1] ?? 0) - (times[0]?.[1] ?? 0)).toBeGreaterThanOrEqual(3 * 40 - 5);
  });

  it('does not wait for the first turn, or at all with a zero interval', async () => {
    const started = performance.now();
    await new MemorySpacer(10_000).waitTurn();
    const zero = new MemorySpacer(0);
    for (let i = 0; i < 5; i++) await zero.waitTurn();
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('counts the interval from the previous turn, not from the call', async () => {
    let now = 1_000;
    const spacer = new MemorySpacer(50, { now: () => now });
    await spacer.waitTurn();
    now += 60; // a slow write: the next turn is already due
    const before = performance.now();
    await spacer.waitTurn();
    expect(performance.now() - before).toBeLessThan(30);
  });

  it('rejects a negative interval', () => {
    expect(() => new MemorySpacer(-1)).toThrow(RangeError);
  });
});
