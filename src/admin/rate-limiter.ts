/** How a rate-limited attempt was judged. */
export interface RateDecision {
  readonly allowed: boolean;
  /** When blocked: how long until the next attempt may be made. */
  readonly retryAfterMs: number;
}

export interface LoginRateLimiterOptions {
  /** Failed attempts allowed per key within `windowMs`. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Keys remembered at most; beyond this the oldest windows are forgotten (memory stays bounded). */
  readonly maxKeys?: number;
  readonly clock?: () => number;
}

interface Window {
  failures: number;
  resetAt: number;
}

const DEFAULT_MAX_KEYS = 10_000;

/**
 * Failed logins per client address in a fixed window, in memory. Only failures count, and a blocked
 * client is refused before its password is even compared, so guessing stops at `maxFailures` per
 * window. In memory is enough: only `isw-ko run` serves the admin pages, one process. Behind a
 * reverse proxy every client shares the proxy's address; the limit then protects the password for
 * everyone at once, which is the safe way to fail.
 */
export class LoginRateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly clock: () => number;

  constructor(options: LoginRateLimiterOptions) {
    this.maxFailures = options.maxFailures;
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.clock = options.clock ?? Date.now;
  }

  /** May `key` try now? */
  check(key: string): RateDecision {
    const now = this.clock();
    const w = this.windows.get(key);
    if (w === undefined || w.resetAt <= now) return { allowed: true, retryAfterMs: 0 };
    if (w.failures < this.maxFailures) return { allowed: true, retryAfterMs: 0 };
    return { allowed: false, retryAfterMs: w.resetAt - now };
  }

  /** Record a failed attempt. */
  fail(key: string): void {
    const now = this.clock();
    const w = this.windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      // Re-insert so the Map's order stays oldest-window first, which the pruning relies on.
      this.windows.delete(key);
      this.windows.set(key, { failures: 1, resetAt: now + this.windowMs });
      this.prune(now);
    } else {
      w.failures += 1;
    }
  }

  /** A successful login forgets the key's failures. */
  succeed(key: string): void {
    this.windows.delete(key);
  }

  /** Keys with a window open (for tests). */
  get size(): number {
    return this.windows.size;
  }

  private prune(now: number): void {
    if (this.windows.size <= this.maxKeys) return;
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    // Still too many live windows (a flood of addresses): forget the oldest ones.
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
