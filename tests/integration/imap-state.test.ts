// Covers the inbox's Redis state on a real redis-server: the single-watcher lock (exclusive, renewed, taken over after expiry, loss noticed), the monotonic mailbox position, the watchdog clock, and idempotent holding.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailboxState, SeenMessages } from '../../src/inbox/mailbox-state.js';
import { Quarantine } from '../../src/inbox/quarantine.js';
import { WatcherLock } from '../../src/inbox/watcher-lock.js';
import { GenuineMailClock } from '../../src/inbox/watchdog.js';
import { plainMessage } from '../support/dkim.js';
import { waitUntil } from '../support/dovecot.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

const logger = pino({ level: 'silent' });
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
});

afterAll(async () => {
  await redis.quit();
  await server.close();
});

describe('WatcherLock', () => {
  it('is exclusive, outlives its TTL while renewed, and is free again once released', async () => {
    const prefix = freshPrefix('lock');
    const a = new WatcherLock({ redis, prefix, mailboxId: 'm1', ttlMs: 300, logger });
    const b = new WatcherLock({ redis, prefix, mailboxId: 'm1', ttlMs: 300, logger });
    const other = new WatcherLock({ redis, prefix, mailboxId: 'm2', ttlMs: 300, logger });
    expect(await a.tryAcquire()).toBe(true);
    expect(await a.tryAcquire()).toBe(true); // re-entrant for its owner
    expect(await b.tryAcquire()).toBe(false);
    expect(await other.tryAcquire()).toBe(true);
    const lost: string[] = [];
    a.keepAlive((why) => lost.push(why));
    const heldUntil = Date.now() + 1_000;
    await waitUntil(() => Date.now() > heldUntil, 2_000, 'three TTLs');
    expect(await b.tryAcquire()).toBe(false);
    expect(await a.holder()).toBe(a.token);
    expect(lost).toEqual([]);
    await a.release();
    await a.release(); // safe twice
    expect(await b.tryAcquire()).toBe(true);
    await Promise.all([b.release(), other.release()]);
  });

  it('is taken over after its holder stops renewing, and the old holder notices the loss', async () => {
    const prefix = freshPrefix('lock');
    const crashed = new WatcherLock({ redis, prefix, mailboxId: 'm', ttlMs: 200, logger });
    const successor = new WatcherLock({ redis, prefix, mailboxId: 'm', ttlMs: 200, logger });
    expect(await crashed.tryAcquire()).toBe(true);
    // No keepAlive: as if the process hung. The key expires and the successor takes it.
    await waitUntil(() => successor.tryAcquire(), 2_000, 'the takeover');
    const lost: string[] = [];
    crashed.keepAlive((why) => lost.push(why));
    await waitUntil(() => lost.length > 0, 2_000, 'the old holder to notice');
    expect(lost[0]).toContain('another watcher');
    expect(crashed.held).toBe(false);
    await successor.release();
  });
});

describe('MailboxState', () => {
  it('only moves forward within one UIDVALIDITY, and starts over on reset', async () => {
    const state = new MailboxState(redis, freshPrefix('state'), 'box');
    expect(await state.load()).toEqual({ uidValidity: null, lastUid: 0 });
    await state.reset('100', 5);
    expect(await state.advance('100', 7)).toBe(true);
    expect(await state.advance('100', 6)).toBe(false); // an older watcher cannot move it back
    expect(await state.advance('999', 50)).toBe(false); // another UID generation
    expect(await state.load()).toEqual({ uidValidity: '100', lastUid: 7 });
    await state.reset('101', 0);
    expect(await state.load()).toEqual({ uidValidity: '101', lastUid: 0 });
  });

  it('remembers delivered Message-IDs across mailboxes', async () => {
    const prefix = freshPrefix('seen');
    const seen = new SeenMessages(redis, prefix);
    await seen.add('m1');
    expect(await new SeenMessages(redis, prefix).has(['m1', 'm2'])).toEqual([true, false]);
    expect(await seen.has([])).toEqual([]);
  });
});

describe('GenuineMailClock', () => {
  it('keeps the first start of watching and the latest genuine arrival', async () => {
    const clock = new GenuineMailClock(redis, freshPrefix('clock'));
    expect(await clock.startWatching(1_000)).toBe(1_000);
    expect(await clock.startWatching(5_000)).toBe(1_000);
    expect(await clock.recordGenuine(3_000)).toBe(3_000);
    expect(await clock.recordGenuine(2_000)).toBe(3_000); // an older message caught up later
    expect(await clock.read()).toEqual({ lastGenuineAt: 3_000, watchingSince: 1_000 });
  });
});

describe('Quarantine', () => {
  it('holds a message once, whatever the number of rescans', async () => {
    const q = new Quarantine({
      redis,
      prefix: freshPrefix('held'),
      logger,
      deliver: () => Promise.resolve(),
    });
    const raw = plainMessage({
      from: 'publications@understandingwar.org',
      subject: '=?utf-8?B?7ZWc6rWt?= ROCA',
    });
    const input = {
      id: 'm1',
      ref: 'imap:INBOX/1/1',
      raw,
      from: 'publications@understandingwar.org',
      messageId: '<1@x>',
      code: 'AUTH_FAILED' as const,
      reason: 'failed',
      auth: 'isw-ko; dkim=none; spf=none; dmarc=fail',
    };
    expect(await q.hold(input)).toBe(true);
    expect(await q.hold({ ...input, ref: 'imap:INBOX/2/1' })).toBe(false);
    const listed = await q.list();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: 'm1',
      ref: 'imap:INBOX/1/1',
      subject: '한국 ROCA',
      releasedAt: null,
    });
    expect((await q.raw('m1'))?.equals(raw)).toBe(true);
  });
});
