// Covers a server without IDLE (Dovecot with IDLE left out of its capabilities): the watcher falls back to polling and still queues new mail, and checkImap says so.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImap } from '../../src/inbox/check-imap.js';
import { ImapWatcher } from '../../src/inbox/imap-watcher.js';
import { startTestDovecot, waitUntil, type TestDovecot } from '../support/dovecot.js';
import { plainMessage } from '../support/dkim.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let dovecot: TestDovecot;
let redisServer: TestRedis;
let redis: Redis;

beforeAll(async () => {
  [dovecot, redisServer] = await Promise.all([startTestDovecot({ idle: false }), startTestRedis()]);
  redis = new Redis(redisServer.url);
});

afterAll(async () => {
  await redis.quit();
  await Promise.all([dovecot.close(), redisServer.close()]);
});

describe('a server without IDLE', () => {
  it('is polled every IMAP_POLL_MS, and new mail is still queued', async () => {
    const mailbox = await dovecot.freshMailbox();
    const delivered: number[] = [];
    const pollMs = 400;
    const w = new ImapWatcher({
      settings: dovecot.settings({ mailbox, pollMs }),
      // SENDER_VERIFY=off keeps this test about polling alone.
      policy: {
        mode: 'off',
        allowlist: ['example.org'],
        rewriteDomains: [],
        trustedForwarders: [],
        trustedAuthservIds: [],
      },
      redis,
      prefix: freshPrefix('poll'),
      logger: pino({ level: 'silent' }),
      deliver: () => {
        delivered.push(performance.now());
        return Promise.resolve();
      },
      timing: { commandTimeoutMs: 5_000 },
    });
    try {
      const connected = new Promise<{ push: string }>((resolve) => w.once('connected', resolve));
      const caughtUp = new Promise((resolve) => w.once('caught-up', resolve));
      await w.start();
      expect((await connected).push).toBe('polling');
      await caughtUp;
      for (let i = 0; i < 3; i += 1) {
        const t0 = performance.now();
        await dovecot.append(mailbox, plainMessage({ from: 'news@example.org' }));
        const at = await waitUntil(() => delivered[i], pollMs * 4, `delivery ${i}`);
        // Within one poll interval plus the time to fetch and hand it on.
        expect(at - t0).toBeLessThan(pollMs + 500);
      }
      expect(w.status().push).toBe('polling');
    } finally {
      await w.close();
    }
  });

  it('is reported by checkImap with the poll interval', async () => {
    const result = await checkImap(dovecot.settings({ pollMs: 120_000 }));
    expect(result).toMatchObject({ ok: true, details: { idle: false } });
    expect(result.message).toContain('no IDLE: polling every 120000 ms');
    expect(result.hint).toContain('IMAP_POLL_MS');
  });
});
