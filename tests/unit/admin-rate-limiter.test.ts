// Covers the per-address login rate limiter: failures counted in a window, the block and its end, success forgetting, bounded memory.
import { expect, it } from 'vitest';
import { LoginRateLimiter } from '../../src/admin/rate-limiter.js';

it('blocks an address after maxFailures in the window, until the window ends', () => {
  let now = 0;
  const limiter = new LoginRateLimiter({ maxFailures: 3, windowMs: 1000, clock: () => now });
  for (let i = 0; i < 3; i += 1) {
    expect(limiter.check('a').allowed).toBe(true);
    limiter.fail('a');
  }
  now = 400;
  expect(limiter.check('a')).toEqual({ allowed: false, retryAfterMs: 600 });
  expect(limiter.check('b').allowed).toBe(true);
  now = 1000;
  expect(limiter.check('a').allowed).toBe(true);
});

it('forgets an address after a successful login', () => {
  const limiter = new LoginRateLimiter({ maxFailures: 2, windowMs: 1000, clock: () => 0 });
  limiter.fail('a');
  limiter.succeed('a');
  limiter.fail('a');
  expect(limiter.check('a').allowed).toBe(true);
});

it('keeps at most maxKeys windows, dropping expired ones first', () => {
  let now = 0;
  const limiter = new LoginRateLimiter({ maxFailures: 1, windowMs: 100, maxKeys: 3, clock: () => now });
  limiter.fail('old');
  now = 200;
  for (const key of ['a', 'b', 'c']) limiter.fail(key);
  expect(limiter.size).toBe(3);
  expect(limiter.check('a').allowed).toBe(false);
  limiter.fail('d');
  expect(limiter.size).toBe(3);
  // The oldest live window went to make room; the newest are still blocked.
  expect(limiter.check('a').allowed).toBe(true);
  expect(limiter.check('d').allowed).toBe(false);
});
