import type { Redis } from 'ioredis';

/** Where the watcher is in one mailbox: which UID generation, and the last UID handed on. */
export interface MailboxPosition {
  /** The mailbox's UIDVALIDITY (RFC 3501 §2.3.1.1), as a decimal string; null before the first run. */
  readonly uidValidity: string | null;
  /** The highest UID fully handled (delivered and marked, held, or ignored); 0 for none. */
  readonly lastUid: number;
}

// Move the position forward only: same UIDVALIDITY and a higher UID. A slower, older watcher
// (one that lost its lock a moment ago) can then never move it back.
const ADVANCE = `
local v = redis.call('HGET', KEYS[1], 'uidValidity')
if v ~= ARGV[1] then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastUid') or '0')
if tonumber(ARGV[2]) <= last then return 0 end
redis.call('HSET', KEYS[1], 'lastUid', ARGV[2], 'updatedAt', ARGV[3])
return 1
`;

/**
 * The position of the watcher in one mailbox, in Redis, so nothing is missed across downtime:
 * on every (re)connect the watcher catches up on every UID after `lastUid`. UIDs are only
 * comparable within one UIDVALIDITY (RFC 3501 §2.3.1.1, RFC 4549 §4.1): when it changes, the
 * position is reset and the mailbox rescanned, deduplicated by Message-ID.
 */
export class MailboxState {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    mailboxId: string,
  ) {
    this.key = `${prefix}:inbox:mailbox:${mailboxId}`;
  }

  async load(): Promise<MailboxPosition> {
    const [uidValidity, lastUid] = await this.redis.hmget(this.key, 'uidValidity', 'lastUid');
    return {
      uidValidity: uidValidity ?? null,
      lastUid: lastUid === null || lastUid === undefined ? 0 : Number(lastUid),
    };
  }

  /** Start over in a (new) UID generation at `lastUid`. */
  async reset(uidValidity: string, lastUid: number): Promise<void> {
    await this.redis.hset(this.key, {
      uidValidity,
      lastUid: String(lastUid),
      updatedAt: new Date().toISOString(),
    });
  }

  /** Record that every UID up to `uid` is handled. Returns false when it was not newer. */
  async advance(uidValidity: string, uid: number): Promise<boolean> {
    const done = await this.redis.eval(
      ADVANCE,
      1,
      this.key,
      uidValidity,
      String(uid),
      new Date().toISOString(),
    );
    return done === 1;
  }
}

/**
 * Message-IDs already handed to the queue, across mailboxes and UID generations, so a rescan
 * after a UIDVALIDITY change, a backfill over the same mail or a second folder never delivers a
 * message twice (the queue's job ids would catch it too, but only while the job is retained).
 */
export class SeenMessages {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:inbox:seen`;
  }

  /** For each key, whether it was delivered before. */
  async has(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const flags = await this.redis.smismember(this.key, ...keys);
    return flags.map((f) => f === 1);
  }

  async add(key: string): Promise<void> {
    await this.redis.sadd(this.key, key);
  }

  async count(): Promise<number> {
    return this.redis.scard(this.key);
  }
}
