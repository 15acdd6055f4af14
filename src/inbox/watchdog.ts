import type { Redis } from 'ioredis';

/** What the watchdog says, for the log, `/readyz` details and `isw-ko doctor`. */
export interface WatchdogStatus {
  readonly tripped: boolean;
  /** When the last genuine report arrived (ISO), or null when none has yet. */
  readonly lastGenuineAt: string | null;
  /** How long the inbox has been quiet, measured from the last report or from the first watch. */
  readonly quietForMs: number;
  readonly thresholdMs: number;
  readonly message: string;
}

export interface WatchdogFacts {
  /** Epoch ms of the last genuine report (its IMAP INTERNALDATE), or null. */
  readonly lastGenuineAt: number | null;
  /** Epoch ms the watcher first watched this install (the clock starts there when no report came yet). */
  readonly watchingSince: number;
  readonly now: number;
  readonly thresholdMs: number;
}

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 10 ? `${Math.round(h)} h` : `${h.toFixed(1)} h`;
}

/**
 * ISW mails most days, so a long silence means something upstream broke (the subscription
 * lapsed, a filter moves the mail elsewhere, every message is held for failing authentication).
 * Silent loss is the failure users of other IMAP triggers complain about most: say it out loud.
 */
export function evaluateWatchdog(facts: WatchdogFacts): WatchdogStatus {
  const since = facts.lastGenuineAt ?? facts.watchingSince;
  const quietForMs = Math.max(0, facts.now - since);
  const tripped = quietForMs >= facts.thresholdMs;
  const last = facts.lastGenuineAt === null ? null : new Date(facts.lastGenuineAt).toISOString();
  const what =
    last === null
      ? `no genuine ISW report since watching began ${hours(quietForMs)} ago`
      : `no genuine ISW report for ${hours(quietForMs)} (last ${last})`;
  return {
    tripped,
    lastGenuineAt: last,
    quietForMs,
    thresholdMs: facts.thresholdMs,
    message: tripped
      ? `${what}, more than the ${hours(facts.thresholdMs)} allowed — check the ISW subscription, mail filters and the held list`
      : last === null
        ? 'waiting for the first genuine ISW report'
        : `last genuine ISW report ${hours(quietForMs)} ago`,
  };
}

/**
 * The watchdog's two facts, kept in Redis so a restart does not reset the clock: when the last
 * genuine report arrived, and when watching began.
 */
export class GenuineMailClock {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:inbox:watchdog`;
  }

  /** Remember when watching began (first call wins); returns that time. */
  async startWatching(now: number): Promise<number> {
    await this.redis.hsetnx(this.key, 'watchingSince', String(now));
    const v = await this.redis.hget(this.key, 'watchingSince');
    return v === null ? now : Number(v);
  }

  /** A genuine report arrived at `at` (epoch ms); keeps the latest. Returns the stored latest. */
  async recordGenuine(at: number): Promise<number> {
    const out = await this.redis.eval(
      `local cur = tonumber(redis.call('HGET', KEYS[1], 'lastGenuineAt') or '0')
       if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'lastGenuineAt', ARGV[1]) return tonumber(ARGV[1]) end
       return cur`,
      1,
      this.key,
      String(at),
    );
    return Number(out);
  }

  async read(): Promise<{ lastGenuineAt: number | null; watchingSince: number | null }> {
    const [last, since] = await this.redis.hmget(this.key, 'lastGenuineAt', 'watchingSince');
    return {
      lastGenuineAt: last === null || last === undefined ? null : Number(last),
      watchingSince: since === null || since === undefined ? null : Number(since),
    };
  }
}
