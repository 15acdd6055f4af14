import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';

// Take the lock when free, or refresh it when it is already ours (after a Redis blip, say).
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface WatcherLockOptions {
  readonly redis: Redis;
  readonly prefix: string;
  /** Id of the mailbox ({@link mailboxIdOf}): one lock per mailbox. */
  readonly mailboxId: string;
  /**
   * How long the lock outlives a holder that stops renewing it (crashed, partitioned). Another
   * process takes over after at most this long.
   */
  readonly ttlMs: number;
  readonly logger: Logger;
}

/**
 * "Only one watcher per mailbox acts at a time", across processes and machines: a Redis key with
 * an expiry, set only if absent, renewed every third of its lifetime, deleted on release only by
 * its owner (compare-and-delete in Lua, so a holder whose lock already expired cannot delete its
 * successor's). When a renewal fails or cannot be confirmed in time, the holder must assume the
 * lock is gone and stop acting before the key can expire.
 *
 * Two watchers overlapping for a moment would still be harmless — delivering is idempotent — the
 * lock keeps them from doing every piece of work twice.
 */
export class WatcherLock {
  /** Who holds it, readable in Redis by operators: host, pid and a random part. */
  readonly token: string;
  private readonly key: string;
  private timer: NodeJS.Timeout | null = null;
  private confirmedAt = 0;
  private heldFlag = false;

  constructor(private readonly options: WatcherLockOptions) {
    this.key = `${options.prefix}:inbox:lock:${options.mailboxId}`;
    this.token = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  }

  get held(): boolean {
    return this.heldFlag;
  }

  /** Try once; true when this process now holds the lock. */
  async tryAcquire(): Promise<boolean> {
    const ok =
      (await this.options.redis.eval(ACQUIRE, 1, this.key, this.token, String(this.options.ttlMs))) === 1;
    if (ok) {
      this.heldFlag = true;
      this.confirmedAt = Date.now();
    }
    return ok;
  }

  /** The current holder's token, or null when free. */
  holder(): Promise<string | null> {
    return this.options.redis.get(this.key);
  }

  /**
   * Keep renewing until released; `onLost` runs once if the lock is lost (taken over, or not
   * confirmable before it would have expired).
   */
  keepAlive(onLost: (why: string) => void): void {
    this.stopTimer();
    const every = Math.max(50, Math.floor(this.options.ttlMs / 3));
    // Give up a little before the key could expire, so we stop before a successor starts.
    const giveUpAfter = Math.floor((this.options.ttlMs * 2) / 3);
    let renewing = false;
    const lost = (why: string): void => {
      if (!this.heldFlag) return;
      this.heldFlag = false;
      this.stopTimer();
      onLost(why);
    };
    this.timer = setInterval(() => {
      if (renewing) {
        if (Date.now() - this.confirmedAt > giveUpAfter)
          lost('the lock renewal got no answer from Redis in time');
        return;
      }
      renewing = true;
      this.options.redis
        .eval(RENEW, 1, this.key, this.token, String(this.options.ttlMs))
        .then((r) => {
          if (r === 1) this.confirmedAt = Date.now();
          else lost('another watcher holds the lock now');
        })
        .catch((err: unknown) => {
          this.options.logger.warn({ err }, 'could not renew the watcher lock; will retry');
          if (Date.now() - this.confirmedAt > giveUpAfter) lost('the lock could not be renewed in time');
        })
        .finally(() => {
          renewing = false;
        });
    }, every);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stop renewing and delete the key if it is still ours. Safe to call twice. */
  async release(): Promise<void> {
    this.stopTimer();
    const was = this.heldFlag;
    this.heldFlag = false;
    if (was) await this.options.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
