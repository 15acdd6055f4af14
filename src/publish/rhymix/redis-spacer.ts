import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Spacer } from './spacer.js';

export interface RedisSpacerOptions {
  /** The key shared by every process writing to the same site (see {@link spacerKey}). */
  readonly key: string;
  /** Minimum time between two turns. */
  readonly intervalMs: number;
}

/**
 * A spacer shared by every process through Redis: a turn is taking the key with
 * `SET key token NX PX interval`, so nobody else gets one until the key expires. A caller that
 * finds the key taken sleeps for its remaining PTTL and tries again. No Lua, no clock agreement
 * between hosts: Redis's own expiry is the only timer.
 */
export class RedisSpacer implements Spacer {
  private readonly redis: Pick<Redis, 'set' | 'pttl' | 'pexpire'>;
  readonly key: string;
  readonly intervalMs: number;

  constructor(redis: Pick<Redis, 'set' | 'pttl' | 'pexpire'>, options: RedisSpacerOptions) {
    if (!Number.isInteger(options.intervalMs) || options.intervalMs < 0) {
      throw new RangeError(`bad interval ${options.intervalMs}`);
    }
    this.redis = redis;
    this.key = options.key;
    this.intervalMs = options.intervalMs;
  }

  async waitTurn(): Promise<void> {
    if (this.intervalMs === 0) return;
    const token = randomBytes(8).toString('hex');
    for (;;) {
      const taken = await this.redis.set(this.key, token, 'PX', this.intervalMs, 'NX');
      if (taken === 'OK') return;
      const ttl = await this.redis.pttl(this.key);
      if (ttl === -1) {
        // A key without expiry (set by hand or by an old version) would block every writer for
        // ever: give it the interval, then wait like for any taken turn.
        await this.redis.pexpire(this.key, this.intervalMs);
        continue;
      }
      // -2: the key expired between the two commands: try again at once. A referenced timer on
      // purpose: an awaited wait must keep a one-shot CLI run alive.
      if (ttl > 0) await sleep(ttl);
    }
  }
}

/**
 * The spacer key of a site: one per host (the spam filter counts posts per IP on the site, not
 * per board), under the deployment's Redis prefix.
 */
export function spacerKey(prefix: string, baseUrl: string): string {
  return `${prefix}:rhymix-spacer:${new URL(baseUrl).host.toLowerCase()}`;
}
