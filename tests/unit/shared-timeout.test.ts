// Covers the one timeout race every stage uses: the value in time, TIMED_OUT (or null) after, a rejection passed through, no timer left behind.
import { expect, it } from 'vitest';
import { TIMED_OUT, within, withTimeout } from '../../src/shared/timeout.js';

it('gives the value when it comes in time, TIMED_OUT when it does not', async () => {
  expect(await within(Promise.resolve(1), 50)).toBe(1);
  // A value of null (or undefined) is a value, not a timeout.
  expect(await within(Promise.resolve(null), 50)).toBeNull();
  expect(await within(new Promise(() => undefined), 10)).toBe(TIMED_OUT);
});

it('passes a rejection through', async () => {
  await expect(within(Promise.reject(new Error('boom')), 50)).rejects.toThrow('boom');
});

it('withTimeout: the value in time, else null', async () => {
  expect(await withTimeout(Promise.resolve(1), 50)).toBe(1);
  expect(await withTimeout(new Promise(() => undefined), 10)).toBeNull();
});

it('leaves no timer running once the race is decided', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await within(Promise.resolve(1), 60_000);
  expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
});
