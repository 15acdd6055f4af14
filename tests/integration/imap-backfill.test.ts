// Covers `runBackfill` against a real Dovecot: the date range, dry run, screening (queued / held / ignored), idempotent re-runs, progress reports, a read-only walk, and a missing folder.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/inbox/authenticate.js';
import { runBackfill, type BackfillOptions, type BackfillProgress } from '../../src/inbox/backfill.js';
import { messageKeyOf } from '../../src/inbox/message-headers.js';
import { Quarantine } from '../../src/inbox/quarantine.js';
import type { SenderPolicy } from '../../src/inbox/sender-policy.js';
import { createSigningKey, dnsFor, iswMessage, plainMessage, signMessage } from '../support/dkim.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

const ISW = createSigningKey('understandingwar.org', 'bf');
const dns = dnsFor(ISW);
const POLICY: SenderPolicy = {
  mode: 'verify',
  allowlist: ['understandingwar.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: [],
  trustedAuthservIds: [],
};
const logger = pino({ level: 'silent' });

let dovecot: TestDovecot;
let redisServer: TestRedis;
let redis: Redis;
let mailbox: string;
/** The keys of the genuine messages inside the range. */
let inRange: string[];
let unsignedKey: string;

beforeAll(async () => {
  [dovecot, redisServer] = await Promise.all([startTestDovecot(), startTestRedis()]);
  redis = new Redis(redisServer.url);
  mailbox = await dovecot.freshMailbox('archive');
  const at = (iso: string): { date: Date } => ({ date: new Date(iso) });
  // Two genuine reports before the range, three inside it, one non-ISW and one unsigned "ISW".
  for (const day of ['2024-12-20', '2024-12-30']) {
    await dovecot.append(mailbox, await signMessage(iswMessage(), ISW), at(`${day}T12:00:00Z`));
  }
  inRange = [];
  for (const day of ['2025-01-02', '2025-02-10', '2025-03-02']) {
    const raw = await signMessage(iswMessage(), ISW);
    inRange.push(messageKeyOf(raw));
    await dovecot.append(mailbox, raw, at(`${day}T12:00:00Z`));
  }
  await dovecot.append(mailbox, plainMessage({ from: 'friend@example.org' }), at('2025-02-11T08:00:00Z'));
  const unsigned = iswMessage();
  unsignedKey = messageKeyOf(unsigned);
  await dovecot.append(mailbox, unsigned, at('2025-02-12T08:00:00Z'));
});

afterAll(async () => {
  await redis.quit();
  await Promise.all([dovecot.close(), redisServer.close()]);
});

function options(prefix: string, delivered: string[], extra: Partial<BackfillOptions> = {}): BackfillOptions {
  return {
    settings: dovecot.settings(),
    mailbox,
    since: new Date('2025-01-01T00:00:00Z'),
    dryRun: false,
    policy: POLICY,
    redis,
    prefix,
    logger,
    verify: createVerifier({ resolver: dns.resolver }),
    deliver: (raw) => {
      delivered.push(messageKeyOf(raw));
      return Promise.resolve();
    },
    batchSize: 2,
    ...extra,
  };
}

describe('runBackfill', () => {
  it('counts what it would do in a dry run, and changes nothing', async () => {
    const prefix = freshPrefix('bf');
    const delivered: string[] = [];
    const result = await runBackfill(options(prefix, delivered, { dryRun: true }));
    expect(result).toMatchObject({
      total: 5,
      done: 5,
      enqueued: 3,
      held: 1,
      ignored: 1,
      skipped: 0,
      dryRun: true,
    });
    expect(delivered).toEqual([]);
    const quarantine = new Quarantine({ redis, prefix, logger, deliver: () => Promise.resolve() });
    expect(await quarantine.count()).toBe(0);
  });

  it('queues the genuine mail in the range, holds the unsigned one, reports progress, and is idempotent', async () => {
    const prefix = freshPrefix('bf');
    const delivered: string[] = [];
    const progress: BackfillProgress[] = [];
    const first = await runBackfill(options(prefix, delivered, { onProgress: (p) => progress.push(p) }));
    expect(first).toMatchObject({ total: 5, done: 5, enqueued: 3, held: 1, ignored: 1, aborted: false });
    expect(first.perSecond).toBeGreaterThan(0);
    expect(delivered.sort()).toEqual([...inRange].sort());
    const quarantine = new Quarantine({ redis, prefix, logger, deliver: () => Promise.resolve() });
    expect((await quarantine.list()).map((h) => h.id)).toEqual([unsignedKey]);
    // Progress: starts at 0 of 5, never goes back, ends at 5 of 5.
    expect(progress[0]).toMatchObject({ total: 5, done: 0 });
    expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatchObject({ done: 5, enqueued: 3 });

    const again = await runBackfill(options(prefix, delivered));
    expect(again).toMatchObject({ total: 5, enqueued: 0, skipped: 3 });
    expect(delivered).toHaveLength(3);
    expect(await quarantine.count()).toBe(1);
  });

  it('walks the folder read-only: no flags are set', async () => {
    await runBackfill(options(freshPrefix('bf'), []));
    const msgs = await dovecot.messages(mailbox);
    // \Recent is a per-session flag (RFC 3501 §2.3.2) the test's own session sees; nothing else may be set.
    expect(msgs.flatMap((m) => m.flags).filter((f) => f !== '\\Recent')).toEqual([]);
  });

  it('fails with a hint when the folder does not exist', async () => {
    await expect(
      runBackfill(options(freshPrefix('bf'), [], { mailbox: 'No/Such/Folder' })),
    ).rejects.toMatchObject({
      code: 'IMAP_MAILBOX',
    });
  });
});
