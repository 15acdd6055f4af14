import type { Redis } from 'ioredis';
import { notifyKeys, type NotifyKeys } from './keys.js';

/**
 * How long the per-(digest, subscriber) markers are kept. Longer than any retry or re-run of a
 * digest can take (BullMQ's backoff ends within hours; an admin re-running a failed digest does so
 * within days), and short enough that 10,000 subscribers × one digest a day stays small.
 */
export const SEND_MARKER_TTL_SECONDS = 45 * 24 * 3600;

/** What `beginSend` found. */
export type BeginSend =
  /** Already accepted by SMTP for this digest: do nothing. */
  | { readonly state: 'sent' }
  /** No such subscriber (removed), or not active any more (unsubscribed, bounced): do not send. */
  | { readonly state: 'skip'; readonly status: string | null }
  /**
   * Send. `priorClaim` is set when an earlier attempt claimed this send and never finished: it
   * crashed (or lost its connection) somewhere between claiming and recording, so SMTP may or may
   * not have accepted that attempt's message (see notify-worker.ts on the crash window).
   */
  | {
      readonly state: 'go';
      readonly priorClaim: string | null;
      readonly subscriber: Readonly<Record<string, string>>;
    };

// ZADD NX at max(at, fence + 1): never inside a daily window that has already been read.
const RECORD_SCRIPT = `
local at = tonumber(ARGV[2])
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if at <= fence then at = fence + 1 end
return redis.call('ZADD', KEYS[1], 'NX', at, ARGV[1])
`;

const FENCE_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

// Check the marker, check the subscriber, claim the send: one round trip, atomic.
const BEGIN_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'sent'} end
local status = redis.call('HGET', KEYS[3], 'status')
if status ~= 'active' then return {'skip', status or ''} end
local prior = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
local sub = redis.call('HGETALL', KEYS[3])
return {'go', prior or '', sub}
`;

// Record the accepted send, drop the claim, reset the bounce streak (only if the subscriber still
// exists: HSET would re-create a half record of someone removed meanwhile), count it.
const FINISH_SCRIPT = `
local first = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 and redis.call('HGET', KEYS[3], 'bounceCount') ~= '0' then
  redis.call('HSET', KEYS[3], 'bounceCount', '0')
end
if first == 1 then
  redis.call('HINCRBY', KEYS[4], 'sent', 1)
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
return first
`;

// Take the throttle (0), or say how many ms are left of the one taken. A key left without a TTL
// (never written so, but it would block its address for ever) is taken again.
const THROTTLE_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return left end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 0
`;

/** Counters of one digest, for `digest send` and the admin pages. */
export interface DigestStats {
  readonly enqueued: number;
  readonly sent: number;
  readonly skipped: number;
  /** Sends retried after an unfinished earlier attempt: each one a possible duplicate (RFC 1047). */
  readonly ambiguous: number;
  readonly bounced: number;
  readonly failed: number;
  readonly empty: number;
  /** Send jobs that found the digest already accepted for their subscriber (a re-run): nothing sent. */
  readonly alreadySent: number;
}

export type DigestCounter = keyof DigestStats;

/**
 * The notify stage's own records: when each report was published (what daily digests choose from),
 * and per digest which subscribers SMTP has accepted a message for ("sent") and which sends are in
 * flight ("sending"). The sent marker is the idempotency check of every email.
 */
export class NotifyStore {
  readonly keys: NotifyKeys;
  private readonly redis: Redis;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.keys = notifyKeys(prefix);
  }

  /**
   * Note that a report was published at `at` (ms). Only the first call counts (ZADD NX): an edited
   * post keeps its place and does not notify anyone again. Returns true for the first call.
   *
   * The time recorded is never at or before a daily run whose fan-out has already started (the
   * fence): a report published a moment before 08:00 but recorded after the 08:00 fan-out read its
   * windows would otherwise fall in no one's window, because every daily subscriber's coverage has
   * moved past it. Redis runs the two scripts one after the other, so each report lands in exactly
   * one digest.
   */
  async recordPublished(reportId: string, at: number): Promise<boolean> {
    const added = (await this.redis.eval(
      RECORD_SCRIPT,
      2,
      this.keys.published,
      this.keys.dailyFence,
      reportId,
      String(Math.floor(at)),
    )) as number;
    return added === 1;
  }

  /**
   * Called by a daily fan-out before it reads any window: from now on, reports are recorded after
   * `runAt` (see {@link recordPublished}). Only moves forward.
   */
  async fenceDaily(runAt: number): Promise<void> {
    await this.redis.eval(FENCE_SCRIPT, 1, this.keys.dailyFence, String(Math.floor(runAt)));
  }

  /** When a report was published (ms), or null if it never was. */
  async publishedAt(reportId: string): Promise<number | null> {
    const score = await this.redis.zscore(this.keys.published, reportId);
    return score === null ? null : Number(score);
  }

  /** Report ids published after `from` and at or before `to` (ms), oldest first. */
  async publishedBetween(from: number, to: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.published, `(${from}`, to);
  }

  /** Report ids with their publish times, newest first. */
  async latestPublished(limit: number): Promise<{ reportId: string; at: number }[]> {
    const flat = await this.redis.zrevrange(this.keys.published, 0, limit - 1, 'WITHSCORES');
    const out: { reportId: string; at: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ reportId: flat[i] ?? '', at: Number(flat[i + 1]) });
    return out;
  }

  /** See {@link BeginSend}. `claim` describes this attempt (job id, attempt, time) for the logs. */
  async beginSend(
    digestId: string,
    subscriberId: string,
    subscriberKey: string,
    claim: string,
  ): Promise<BeginSend> {
    const result = (await this.redis.eval(
      BEGIN_SCRIPT,
      3,
      this.keys.sent(digestId),
      this.keys.sending(digestId),
      subscriberKey,
      subscriberId,
      claim,
      SEND_MARKER_TTL_SECONDS,
    )) as [string, string?, string[]?];
    if (result[0] === 'sent') return { state: 'sent' };
    if (result[0] === 'skip')
      return { state: 'skip', status: result[1] === '' || result[1] === undefined ? null : result[1] };
    const flat = result[2] ?? [];
    const subscriber: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) subscriber[flat[i] ?? ''] = flat[i + 1] ?? '';
    return {
      state: 'go',
      priorClaim: result[1] === '' || result[1] === undefined ? null : result[1],
      subscriber,
    };
  }

  /**
   * Record that SMTP accepted the message (written only after the "250"). Returns false when a
   * marker was already there (a concurrent duplicate, which the counters then do not count twice).
   */
  async finishSend(
    digestId: string,
    subscriberId: string,
    subscriberKey: string,
    record: string,
  ): Promise<boolean> {
    const first = (await this.redis.eval(
      FINISH_SCRIPT,
      4,
      this.keys.sent(digestId),
      this.keys.sending(digestId),
      subscriberKey,
      this.keys.digest(digestId),
      subscriberId,
      record,
      SEND_MARKER_TTL_SECONDS,
    )) as number;
    return first === 1;
  }

  /** Drop a claim after a failure in which SMTP certainly did not take the message. */
  async releaseClaim(digestId: string, subscriberId: string): Promise<void> {
    await this.redis.hdel(this.keys.sending(digestId), subscriberId);
  }

  /** Whether SMTP accepted this digest for this subscriber. */
  async wasSent(digestId: string, subscriberId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.sent(digestId), subscriberId)) === 1;
  }

  async count(digestId: string, counter: DigestCounter, by = 1): Promise<void> {
    await this.redis
      .multi()
      .hincrby(this.keys.digest(digestId), counter, by)
      .expire(this.keys.digest(digestId), SEND_MARKER_TTL_SECONDS)
      .exec();
  }

  async stats(digestId: string): Promise<DigestStats> {
    const h = await this.redis.hgetall(this.keys.digest(digestId));
    const n = (k: DigestCounter): number => Number(h[k] ?? 0) || 0;
    return {
      enqueued: n('enqueued'),
      sent: n('sent'),
      skipped: n('skipped'),
      ambiguous: n('ambiguous'),
      bounced: n('bounced'),
      failed: n('failed'),
      empty: n('empty'),
      alreadySent: n('alreadySent'),
    };
  }

  /**
   * Allowed at most once per `ttlMs` per key (SET NX PX): one confirmation email per address per
   * period, so the public form cannot be used to flood someone's mailbox. When refused, how long
   * until the next one is allowed (so the page can say when to try again).
   */
  async throttle(key: string, ttlMs: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const left = (await this.redis.eval(THROTTLE_SCRIPT, 1, key, String(ttlMs))) as number;
    return { allowed: left === 0, retryAfterMs: left };
  }

  /** Forget a throttle (the email it guarded could not be sent). */
  async releaseThrottle(key: string): Promise<void> {
    await this.redis.del(key);
  }

  /** Note that a digest's fan-out finished (all its send jobs are enqueued). */
  async markFannedOut(digestId: string, at: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.digest(digestId), 'fannedOutAt', String(at))
      .expire(this.keys.digest(digestId), SEND_MARKER_TTL_SECONDS)
      .exec();
  }

  /** When a digest's fan-out finished (ms), or null. */
  async fannedOutAt(digestId: string): Promise<number | null> {
    const value = await this.redis.hget(this.keys.digest(digestId), 'fannedOutAt');
    return value === null ? null : Number(value);
  }
}
