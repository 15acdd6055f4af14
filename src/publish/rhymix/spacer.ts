import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Keeps writes to one site apart in time. Rhymix's spam filter allows one new post per 10 s per
 * IP and bans the IP automatically after 3 tries (RHYMIX.md), so every write waits its turn, and
 * the spacing must hold across every isw-ko process posting from this host: use
 * {@link RedisSpacer} in production, {@link MemorySpacer} for one process.
 */
export interface Spacer {
  /**
   * Resolve when the caller may write, and take the turn: the next caller (here or in another
   * process) resolves no sooner than the spacer's interval after this one.
   */
  waitTurn(): Promise<void>;
}

/** A spacer for one process: turns are handed out in call order, `intervalMs` apart. */
export class MemorySpacer implements Spacer {
  readonly intervalMs: number;
  // Earliest start of the next turn; reserved synchronously so concurrent callers queue up.
  private nextAt = 0;
  private readonly now: () => number;

  constructor(intervalMs: number, options: { readonly now?: () => number } = {}) {
    if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new RangeError(`bad interval ${intervalMs}`);
    this.intervalMs = intervalMs;
    this.now = options.now ?? Date.now;
  }

  async waitTurn(): Promise<void> {
    const now = this.now();
    const start = Math.max(now, this.nextAt);
    this.nextAt = start + this.intervalMs;
    // A referenced timer on purpose: an awaited wait must keep a one-shot CLI run alive.
    if (start > now) await sleep(start - now);
  }
}
