// Covers who may post, end to end through a real Dovecot: signed ISW mail accepted, unsigned / badly signed / tampered "ISW" mail held (listed, releasable), trusted forwards accepted and unwrapped, Constant Contact rewrites, non-ISW mail ignored, trust-header and off modes, a DNS temperror deferred.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/inbox/authenticate.js';
import { ImapWatcher, type WatcherTiming } from '../../src/inbox/imap-watcher.js';
import { messageKeyOf } from '../../src/inbox/message-headers.js';
import type { SenderPolicy } from '../../src/inbox/sender-policy.js';
import { parseEmail } from '../../src/parse/index.js';
import {
  createSigningKey,
  dnsFor,
  iswMessage,
  plainMessage,
  setHeader,
  signMessage,
  uniqueMessageId,
} from '../support/dkim.js';
import { startTestDovecot, waitUntil, type TestDovecot } from '../support/dovecot.js';
import {
  attachmentForward,
  EASTERN_FORWARDER,
  gmailForward,
  readFixture,
  SEOUL_FORWARDER,
} from '../support/fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

const ISW = createSigningKey('understandingwar.org', 'sel1');
const OPERATOR = createSigningKey('example.kr', 'mail'); // SEOUL_FORWARDER's domain
const UNTRUSTED = createSigningKey('example.com', 'mail'); // EASTERN_FORWARDER's domain
const CC_SHARED = createSigningKey('shared1.ccsend.com', 'cc');
const dns = dnsFor(ISW, OPERATOR, UNTRUSTED, CC_SHARED);

const BASE_POLICY: SenderPolicy = {
  mode: 'verify',
  allowlist: ['understandingwar.org', 'criticalthreats.org', 'criticalthreats@aei.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: [SEOUL_FORWARDER.address],
  trustedAuthservIds: [],
};
const TIMING: Partial<WatcherTiming> = { reconnectBaseMs: 100, commandTimeoutMs: 5_000, deferRetryMs: 200 };

let dovecot: TestDovecot;
let redisServer: TestRedis;
let redis: Redis;
const watchers: ImapWatcher[] = [];

beforeAll(async () => {
  [dovecot, redisServer] = await Promise.all([startTestDovecot(), startTestRedis()]);
  redis = new Redis(redisServer.url);
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

afterAll(async () => {
  await redis.quit();
  await Promise.all([dovecot.close(), redisServer.close()]);
});

interface Outcome {
  readonly watcher: ImapWatcher;
  readonly delivered: Buffer[];
  readonly held: { key: string; code: string; reason: string }[];
  readonly ignored: string[];
  readonly logs: () => Record<string, unknown>[];
}

function captureLogger(): { logger: Logger; logs: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return {
    logger: pino({ level: 'debug' }, stream),
    logs: () =>
      lines
        .join('')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Watch a fresh mailbox, append the messages, wait until each one was delivered, held or ignored. */
async function watchMessages(
  messages: readonly Buffer[],
  policy: Partial<SenderPolicy> = {},
): Promise<Outcome> {
  const mailbox = await dovecot.freshMailbox();
  const { logger, logs } = captureLogger();
  const delivered: Buffer[] = [];
  const w = new ImapWatcher({
    settings: dovecot.settings({ mailbox }),
    policy: { ...BASE_POLICY, ...policy },
    redis,
    prefix: freshPrefix('senders'),
    logger,
    verify: createVerifier({ resolver: dns.resolver }),
    deliver: (raw) => {
      delivered.push(raw);
      return Promise.resolve();
    },
    timing: TIMING,
  });
  watchers.push(w);
  const held: Outcome['held'] = [];
  const ignored: string[] = [];
  w.on('held', (e) => held.push(e));
  w.on('ignored', (e) => ignored.push(e.reason));
  const caughtUp = new Promise((resolve) => w.once('caught-up', resolve));
  await w.start();
  await caughtUp;
  for (const m of messages) await dovecot.append(mailbox, m);
  await waitUntil(
    () => delivered.length + held.length + ignored.length >= messages.length,
    8_000,
    `${messages.length} outcomes`,
  );
  return { watcher: w, delivered, held, ignored, logs };
}

describe('sender authentication (verify mode, mailauth with a stub DNS)', () => {
  it('accepts genuine, signed ISW mail (DMARC pass)', async () => {
    const raw = await signMessage(iswMessage(), ISW);
    const out = await watchMessages([raw]);
    expect(out.delivered).toHaveLength(1);
    expect(out.held).toEqual([]);
    const report = await parseEmail(out.delivered[0] ?? Buffer.alloc(0));
    expect(report.source).toBe('isw');
  });

  it('holds unsigned, badly signed and tampered mail claiming to be ISW, and lists it with the verdict', async () => {
    const unsigned = iswMessage();
    // The shared fixture keeps its made-up DKIM signatures: their keys are not published.
    const badlySigned = setHeader(readFixture('isw-roca-2024-01-26.eml'), 'Message-ID', uniqueMessageId());
    const signed = await signMessage(iswMessage(), ISW);
    const tampered = Buffer.from(
      signed.toString('latin1').replace('Key Takeaways', 'Key Takeaway$'),
      'latin1',
    );
    const out = await watchMessages([unsigned, badlySigned, tampered]);
    expect(out.delivered).toHaveLength(0);
    expect(out.held.map((h) => h.code)).toEqual(['AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED']);
    const listed = await out.watcher.quarantine.list();
    expect(listed).toHaveLength(3);
    const byId = new Map(listed.map((h) => [h.id, h]));
    const tamperedEntry = byId.get(messageKeyOf(tampered));
    expect(tamperedEntry?.auth).toMatch(/dkim=(fail|neutral) header\.d=understandingwar\.org/);
    expect(tamperedEntry?.auth).toContain('dmarc=fail');
    expect(tamperedEntry?.from).toBe('publications@understandingwar.org');
    expect(tamperedEntry?.subject).toBe('Russian Offensive Campaign Assessment, March 2, 2025');
    expect(byId.get(messageKeyOf(unsigned))?.auth).toContain('dkim=none');
    const warned = out.logs().filter((l) => l.level === 40 && String(l.msg).startsWith('held for an admin'));
    expect(warned).toHaveLength(3);
  });

  it('releases a held message by hand: it is delivered then, and leaves the held list', async () => {
    const unsigned = iswMessage();
    const out = await watchMessages([unsigned]);
    expect(out.delivered).toHaveLength(0);
    const id = messageKeyOf(unsigned);
    const released = await out.watcher.quarantine.release(id, 'test-admin');
    expect(released).toMatchObject({ id, releasedBy: 'test-admin' });
    expect(released.releasedAt).not.toBeNull();
    expect(out.delivered).toHaveLength(1);
    expect(out.delivered[0]?.equals(unsigned)).toBe(true);
    expect(await out.watcher.quarantine.list()).toEqual([]);
    await expect(out.watcher.quarantine.release('m-no-such-id')).rejects.toMatchObject({
      code: 'HELD_NOT_FOUND',
    });
  });

  it('accepts a trusted operator’s authenticated forward and the parser unwraps the ISW original', async () => {
    const original = readFixture('isw-roca-2025-03-02.eml');
    // The builders derive the forward's Message-ID from the original's date: make them distinct.
    const fresh = (raw: Buffer): Buffer => setHeader(raw, 'Message-ID', uniqueMessageId('example.kr'));
    const inline = await signMessage(fresh(await gmailForward(original, SEOUL_FORWARDER)), OPERATOR);
    const attached = await signMessage(fresh(await attachmentForward(original, SEOUL_FORWARDER)), OPERATOR);
    const out = await watchMessages([inline, attached]);
    expect(out.delivered).toHaveLength(2);
    for (const raw of out.delivered) {
      const report = await parseEmail(raw);
      expect(report.source).toBe('isw');
      expect(report.forwardedBy?.address).toBe(SEOUL_FORWARDER.address);
    }
  });

  it('holds a forward that only claims to come from the operator, and ignores forwards from anyone else', async () => {
    const original = readFixture('isw-roca-2025-03-02.eml');
    const forged = await gmailForward(original, SEOUL_FORWARDER); // not signed by example.kr
    const stranger = await signMessage(await gmailForward(original, EASTERN_FORWARDER), UNTRUSTED);
    const out = await watchMessages([forged, stranger]);
    expect(out.delivered).toHaveLength(0);
    expect(out.held.map((h) => h.code)).toEqual(['AUTH_FAILED']);
    expect(out.ignored).toHaveLength(1);
  });

  it('accepts a Constant Contact From rewrite of an ISW address, not one that only looks like it', async () => {
    const rewritten = await signMessage(
      setHeader(
        iswMessage(),
        'From',
        'ISW Publications <publications-understandingwar.org@shared1.ccsend.com>',
      ),
      CC_SHARED,
    );
    const lookalike = await signMessage(
      setHeader(iswMessage(), 'From', 'ISW <x-evil-understandingwar.org@shared1.ccsend.com>'),
      CC_SHARED,
    );
    const out = await watchMessages([rewritten, lookalike]);
    expect(out.delivered.map((r) => messageKeyOf(r))).toEqual([messageKeyOf(rewritten)]);
    expect(out.ignored).toHaveLength(1);
  });

  it('ignores non-ISW mail quietly (debug log only), without a DNS lookup', async () => {
    const before = dns.queries.length;
    const newsletter = setHeader(
      readFixture('other-newsletter-2025-05-02.eml'),
      'Message-ID',
      uniqueMessageId(),
    );
    const personal = plainMessage({ from: 'friend@example.org', subject: 'lunch?' });
    const out = await watchMessages([newsletter, personal]);
    expect(out.delivered).toHaveLength(0);
    expect(out.held).toHaveLength(0);
    expect(out.ignored).toHaveLength(2);
    expect(dns.queries.length).toBe(before);
    const ignoredLogs = out.logs().filter((l) => String(l.msg).startsWith('ignored'));
    expect(ignoredLogs.every((l) => l.level === 20)).toBe(true);
    expect(await out.watcher.quarantine.count()).toBe(0);
  });

  it('defers a message whose DNS lookups fail temporarily, and accepts it once DNS answers', async () => {
    const raw = await signMessage(iswMessage(), ISW);
    dns.fail('_dmarc.understandingwar.org').fail('sel1._domainkey.understandingwar.org');
    try {
      const mailbox = await dovecot.freshMailbox();
      const delivered: Buffer[] = [];
      const w = new ImapWatcher({
        settings: dovecot.settings({ mailbox }),
        policy: BASE_POLICY,
        redis,
        prefix: freshPrefix('senders'),
        logger: pino({ level: 'silent' }),
        verify: createVerifier({ resolver: dns.resolver }),
        deliver: (r) => {
          delivered.push(r);
          return Promise.resolve();
        },
        timing: TIMING,
      });
      watchers.push(w);
      const deferred = new Promise((resolve) => w.once('deferred', resolve));
      await w.start();
      await dovecot.append(mailbox, raw);
      await deferred;
      expect(delivered).toHaveLength(0);
      dns.heal('_dmarc.understandingwar.org').heal('sel1._domainkey.understandingwar.org');
      await waitUntil(() => delivered.length === 1, 5_000, 'delivery after DNS recovered');
    } finally {
      dns.heal('_dmarc.understandingwar.org').heal('sel1._domainkey.understandingwar.org');
    }
  });
});

describe('trust-header and off modes', () => {
  it('trusts the Authentication-Results of a configured server, and only that one', async () => {
    // The fixtures carry `Authentication-Results: mx1.example.com; … dmarc=pass header.from=understandingwar.org`.
    const received = setHeader(readFixture('isw-roca-2025-03-02.eml'), 'Message-ID', uniqueMessageId());
    const forged = setHeader(
      iswMessage(),
      'Authentication-Results',
      'mx.attacker.example; dkim=pass header.d=understandingwar.org; dmarc=pass header.from=understandingwar.org',
    );
    const out = await watchMessages([received, forged], {
      mode: 'trust-header',
      trustedAuthservIds: ['mx1.example.com'],
    });
    expect(out.delivered.map((r) => messageKeyOf(r))).toEqual([messageKeyOf(received)]);
    expect(out.held.map((h) => h.code)).toEqual(['NO_TRUSTED_HEADER']);
  });

  it('accepts without checking in off mode, after a loud warning at start-up', async () => {
    const out = await watchMessages([iswMessage()], { mode: 'off' });
    expect(out.delivered).toHaveLength(1);
    const warning = out.logs().find((l) => l.level === 40 && String(l.msg).includes('SENDER_VERIFY=off'));
    expect(warning?.msg).toContain('DISABLED');
  });
});
