// Covers the IMAP watcher against a real Dovecot: IDLE pickup within a second, catch-up after downtime, a Dovecot crash and restart (nothing lost, nothing queued twice), UIDVALIDITY change, IMAP_IDLE=false polling, first-run lookback, move mode, the single-watcher lock, checkImap.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/inbox/authenticate.js';
import { checkImap } from '../../src/inbox/check-imap.js';
import {
  ImapWatcher,
  type ImapWatcherOptions,
  type TooLargeMessage,
  type WatcherTiming,
} from '../../src/inbox/imap-watcher.js';
import type { ImapSettings } from '../../src/inbox/imap-settings.js';
import { messageKeyOf } from '../../src/inbox/message-headers.js';
import type { SenderPolicy } from '../../src/inbox/sender-policy.js';
import { Pipeline } from '../../src/queue/pipeline.js';
import {
  createSigningKey,
  dnsFor,
  iswMessage,
  plainMessage,
  signMessage,
  uniqueMessageId,
} from '../support/dkim.js';
import { startFreezingProxy, startTestDovecot, waitUntil, type TestDovecot } from '../support/dovecot.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

const ISW_KEY = createSigningKey('understandingwar.org', 'itest');
const dns = dnsFor(ISW_KEY);
const verify = createVerifier({ resolver: dns.resolver });
const POLICY: SenderPolicy = {
  mode: 'verify',
  allowlist: ['understandingwar.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: [],
  trustedAuthservIds: [],
};
const FAST: Partial<WatcherTiming> = {
  reconnectBaseMs: 100,
  reconnectMaxMs: 1_000,
  slowRetryBaseMs: 500,
  slowRetryMaxMs: 2_000,
  commandTimeoutMs: 5_000,
  lockRetryMs: 200,
};

let dovecot: TestDovecot;
let redisServer: TestRedis;
let redis: Redis;
const watchers: ImapWatcher[] = [];
const logger = pino({ level: 'silent' });

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

/** A signed ISW message with a fresh Message-ID. */
async function genuine(): Promise<{ raw: Buffer; messageId: string }> {
  const messageId = uniqueMessageId('synd.ccsend.com');
  return { raw: await signMessage(iswMessage({ messageId }), ISW_KEY), messageId };
}

interface Recorded {
  readonly calls: { readonly key: string; readonly ref: string; readonly at: number }[];
  readonly deliver: (raw: Buffer, ref: string) => Promise<void>;
  keys(): string[];
}

function recorder(): Recorded {
  const calls: { key: string; ref: string; at: number }[] = [];
  return {
    calls,
    deliver: (raw, ref) => {
      calls.push({ key: messageKeyOf(raw), ref, at: performance.now() });
      return Promise.resolve();
    },
    keys: () => calls.map((c) => c.key),
  };
}

function watcher(
  settings: ImapSettings,
  options: Partial<ImapWatcherOptions> & Pick<ImapWatcherOptions, 'deliver'>,
): ImapWatcher {
  const w = new ImapWatcher({
    settings,
    policy: POLICY,
    redis,
    prefix: options.prefix ?? freshPrefix('imap'),
    logger,
    verify,
    timing: FAST,
    ...options,
  });
  watchers.push(w);
  return w;
}

function once<T>(
  w: ImapWatcher,
  event: 'connected' | 'caught-up' | 'lock-acquired' | 'standby',
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no ${event} within ${timeoutMs} ms; status ${JSON.stringify(w.status())}`));
    }, timeoutMs);
    w.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args[0] as T);
    });
  });
}

describe('ImapWatcher', () => {
  it('queues a message appended while watching within a second (IDLE), then marks it processed', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    const w = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver });
    const connected = once<{ push: string }>(w, 'connected');
    await w.start();
    expect((await connected).push).toBe('idle');
    await once(w, 'caught-up');
    const latencies: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { raw } = await genuine();
      const t0 = performance.now();
      await dovecot.append(mailbox, raw);
      const call = await waitUntil(() => rec.calls[i], 3_000, `delivery ${i}`);
      latencies.push(call.at - t0);
    }
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    const msgs = await waitUntil(
      async () => {
        const m = await dovecot.messages(mailbox);
        return m.every((x) => x.flags.includes('IswKoProcessed')) && m;
      },
      3_000,
      'processed flags',
    );
    expect(msgs).toHaveLength(3);
    // The last UID is recorded after the message is marked: wait for it rather than race it.
    const status = await waitUntil(() => w.status().lastUid === 3 && w.status(), 3_000, 'last UID 3');
    expect(status).toMatchObject({ role: 'active', connected: true, push: 'idle', watchdogTripped: false });
    expect(status.lastGenuineAt).not.toBeNull();
  });

  it('lists genuine mail over the size limit for an admin instead of fetching it, and leaves it unflagged', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    const tooLarge: TooLargeMessage[] = [];
    const w = watcher(dovecot.settings({ mailbox }), {
      deliver: rec.deliver,
      timing: { ...FAST, maxMessageBytes: 2_000 },
      tooLarge: (m) => {
        tooLarge.push(m);
        return Promise.resolve();
      },
    });
    await w.start();
    await once(w, 'caught-up');
    const { raw, messageId } = await genuine();
    expect(raw.length).toBeGreaterThan(2_000);
    await dovecot.append(mailbox, raw);
    const [m] = await waitUntil(() => tooLarge.length > 0 && tooLarge, 3_000, 'the too-large notice');
    expect(m).toMatchObject({ uid: 1, messageId, limit: 2_000 });
    expect(m?.size).toBeGreaterThan(2_000);
    expect(m?.ref).toMatch(new RegExp(`^imap:${mailbox}/\\d+/1$`));
    expect(rec.calls).toHaveLength(0);
    // Unflagged: a backfill takes it once the limit is raised.
    expect((await dovecot.messages(mailbox))[0]?.flags).not.toContain('IswKoProcessed');
  });

  it('catches up on mail appended while it was down, without delivering the earlier mail again', async () => {
    const mailbox = await dovecot.freshMailbox();
    const prefix = freshPrefix('imap');
    const rec = recorder();
    const first = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver, prefix });
    await first.start();
    await once(first, 'caught-up');
    await dovecot.append(mailbox, (await genuine()).raw);
    await waitUntil(() => rec.calls.length === 1, 3_000, 'the first delivery');
    await first.close();
    await first.close(); // safe twice

    const whileDown = await Promise.all([genuine(), genuine(), genuine()]);
    for (const m of whileDown) await dovecot.append(mailbox, m.raw);
    const second = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver, prefix });
    const caughtUp = once(second, 'caught-up');
    await second.start();
    await caughtUp;
    expect(rec.calls).toHaveLength(4);
    expect(new Set(rec.keys()).size).toBe(4);
    expect(rec.keys().slice(1).sort()).toEqual(whileDown.map((m) => messageKeyOf(m.raw)).sort());
  });

  it('survives Dovecot being killed and restarted mid-watch: nothing lost, nothing queued twice', async () => {
    const mailbox = await dovecot.freshMailbox();
    const prefix = freshPrefix('imap');
    const pipeline = await Pipeline.start({
      redis: { url: redisServer.url },
      prefix,
      logger,
      workers: [],
      parse: () => Promise.reject(new Error('no ingest worker in this test')),
      summarize: () => Promise.reject(new Error('no summarize worker in this test')),
      targets: new Map(),
      summarizeConcurrency: 1,
      lockDurationMs: 60_000,
    });
    try {
      const rec = recorder();
      const deliver = async (raw: Buffer, ref: string): Promise<void> => {
        // A slow queue widens the window in which the crash hits a message half-handled.
        await new Promise((r) => setTimeout(r, 25));
        await pipeline.enqueueEmail(raw, { kind: 'imap', ref });
        await rec.deliver(raw, ref);
      };
      const w = watcher(dovecot.settings({ mailbox, pollMs: 500 }), { deliver, prefix });
      await w.start();
      await once(w, 'caught-up');
      const sent: string[] = [];
      const appendSome = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i += 1) {
          const m = await genuine();
          await dovecot.append(mailbox, m.raw);
          sent.push(messageKeyOf(m.raw));
        }
      };
      await appendSome(5);
      // Crash the server while the watcher may be in the middle of these.
      await dovecot.kill();
      await waitUntil(() => !w.status().connected, 5_000, 'the watcher to notice the crash');
      await dovecot.start();
      await appendSome(5);
      await waitUntil(() => new Set(rec.keys()).size === 10, 15_000, 'all ten messages');
      await once(w, 'caught-up');
      expect(new Set(rec.keys())).toEqual(new Set(sent));
      const counts = await pipeline.queues.ingest.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'completed',
        'failed',
      );
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(10);
      const status = w.status();
      expect(status.reconnects).toBeGreaterThanOrEqual(1);
      expect(status.connected).toBe(true);
    } finally {
      await pipeline.close();
    }
  });

  it('notices a connection that went quiet (no answer, no reset) and reconnects through polling', async () => {
    const proxy = await startFreezingProxy(dovecot.port);
    try {
      const mailbox = await dovecot.freshMailbox();
      const rec = recorder();
      const timing = { ...FAST, commandTimeoutMs: 1_000 };
      const w = watcher(dovecot.settings({ mailbox, port: proxy.port, pollMs: 300 }), {
        deliver: rec.deliver,
        timing,
      });
      const errors: (string | undefined)[] = [];
      w.on('disconnected', (e) => errors.push(e.error?.code));
      const caughtUp = once(w, 'caught-up');
      await w.start();
      await caughtUp;
      proxy.freeze(); // IDLE is running; from now on the server's EXISTS never arrives
      await dovecot.append(mailbox, (await genuine()).raw);
      await waitUntil(() => rec.calls.length === 1, 6_000, 'delivery after the reconnect');
      expect(errors[0]).toBe('IMAP_TIMEOUT');
      expect(w.status().reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      await proxy.close();
    }
  });

  it('rescans after a UIDVALIDITY change, deduplicated by Message-ID', async () => {
    const mailbox = await dovecot.freshMailbox();
    const prefix = freshPrefix('imap');
    const rec = recorder();
    const old = [await genuine(), await genuine()];
    const first = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver, prefix });
    await first.start();
    await once(first, 'caught-up');
    for (const m of old) await dovecot.append(mailbox, m.raw);
    await waitUntil(() => rec.calls.length === 2, 3_000, 'two deliveries');
    await first.close();
    const before = await dovecot.uidValidity(mailbox);

    // The mailbox is recreated (a provider migration, a restore): same mail, new UIDs.
    await dovecot.recreateMailbox(mailbox);
    expect(await dovecot.uidValidity(mailbox)).not.toBe(before);
    const fresh = await genuine();
    for (const m of [...old, fresh]) await dovecot.append(mailbox, m.raw);
    const second = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver, prefix });
    const changed = new Promise<{ from: string; to: string }>((resolve) =>
      second.once('uidvalidity-changed', resolve),
    );
    const skipped: string[] = [];
    second.on('skipped', (e) => skipped.push(e.why));
    await second.start();
    expect((await changed).from).toBe(before);
    await once(second, 'caught-up');
    expect(rec.calls).toHaveLength(3);
    expect(rec.calls[2]?.key).toBe(messageKeyOf(fresh.raw));
    expect(skipped).toEqual(['seen', 'seen']);
    // The rescanned copies are marked processed too.
    const msgs = await dovecot.messages(mailbox);
    expect(msgs.every((m) => m.flags.includes('IswKoProcessed'))).toBe(true);
  });

  it('polls when IMAP_IDLE=false', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    const w = watcher(dovecot.settings({ mailbox, idle: false, pollMs: 300 }), { deliver: rec.deliver });
    const connected = once<{ push: string }>(w, 'connected');
    await w.start();
    expect((await connected).push).toBe('polling');
    await dovecot.append(mailbox, (await genuine()).raw);
    await waitUntil(() => rec.calls.length === 1, 3_000, 'the polled delivery');
  });

  it('on its first run catches up recent mail only and leaves older mail to backfill', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    const ancient = await genuine();
    const recent = await genuine();
    await dovecot.append(mailbox, ancient.raw, { date: new Date(Date.now() - 30 * 24 * 3_600_000) });
    await dovecot.append(mailbox, recent.raw);
    const w = watcher(dovecot.settings({ mailbox }), { deliver: rec.deliver });
    await w.start();
    await once(w, 'caught-up');
    expect(rec.keys()).toEqual([messageKeyOf(recent.raw)]);
  });

  it('moves processed mail to a folder in move mode, and leaves ignored mail where it is', async () => {
    const mailbox = await dovecot.freshMailbox();
    const folder = `${mailbox}-done`;
    const rec = recorder();
    const w = watcher(dovecot.settings({ mailbox, processed: { kind: 'move', folder } }), {
      deliver: rec.deliver,
    });
    const ignored = new Promise((resolve) => w.once('ignored', resolve));
    await w.start();
    await once(w, 'caught-up');
    await dovecot.append(mailbox, plainMessage({ from: 'someone@example.org' }));
    await dovecot.append(mailbox, (await genuine()).raw);
    await ignored;
    await waitUntil(() => rec.calls.length === 1, 3_000, 'the delivery');
    await waitUntil(async () => (await dovecot.messages(folder)).length === 1, 3_000, 'the move');
    expect(await dovecot.messages(mailbox)).toHaveLength(1);
  });

  it('lets only one watcher per mailbox act; a standby takes over when the active one stops', async () => {
    const mailbox = await dovecot.freshMailbox();
    const prefix = freshPrefix('imap');
    const recA = recorder();
    const recB = recorder();
    const timing = { ...FAST, lockTtlMs: 1_500, lockRetryMs: 100 };
    const a = watcher(dovecot.settings({ mailbox }), { deliver: recA.deliver, prefix, timing });
    const b = watcher(dovecot.settings({ mailbox }), { deliver: recB.deliver, prefix, timing });
    await a.start();
    await once(a, 'caught-up');
    const standby = once(b, 'standby');
    await b.start();
    await standby;
    expect(b.status().role).toBe('standby');
    await dovecot.append(mailbox, (await genuine()).raw);
    await waitUntil(() => recA.calls.length === 1, 3_000, 'delivery by the active watcher');

    const takeover = once(b, 'lock-acquired');
    await a.close();
    await takeover;
    await once(b, 'caught-up');
    await dovecot.append(mailbox, (await genuine()).raw);
    await waitUntil(() => recB.calls.length === 1, 3_000, 'delivery by the new active watcher');
    expect(recA.calls).toHaveLength(1);
    expect(new Set([...recA.keys(), ...recB.keys()]).size).toBe(2);
  });

  it('trips the watchdog when no genuine report arrives in time, and recovers when one does', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    // Arrival is the message's INTERNALDATE, which IMAP gives in whole seconds: keep the
    // threshold well above a second so the fresh report counts as fresh.
    const w = watcher(dovecot.settings({ mailbox, watchdogMs: 2_500 }), {
      deliver: rec.deliver,
      timing: { ...FAST, watchdogCheckMs: 50 },
    });
    const tripped = new Promise<{ message: string }>((resolve) => w.once('watchdog-tripped', resolve));
    await w.start();
    expect(w.status().watchdogTripped).toBe(false);
    expect((await tripped).message).toContain('no genuine ISW report since watching began');
    expect(w.status()).toMatchObject({
      watchdogTripped: true,
      watchdog: { tripped: true, lastGenuineAt: null },
    });
    await dovecot.append(mailbox, (await genuine()).raw);
    // The arrival is recorded just after the hand-over to the queue.
    const recovered = await waitUntil(
      () => !w.status().watchdogTripped && w.status(),
      3_000,
      'the watchdog to recover',
    );
    expect(recovered.lastGenuineAt).not.toBeNull();
    expect(rec.calls).toHaveLength(1);
  });

  it('reports a refused login in status with a hint, and keeps retrying', async () => {
    const mailbox = await dovecot.freshMailbox();
    const rec = recorder();
    const w = watcher(dovecot.settings({ mailbox, auth: { user: dovecot.user, pass: 'wrong' } }), {
      deliver: rec.deliver,
    });
    await w.start();
    const status = await waitUntil(
      () => w.status().lastError !== null && w.status(),
      10_000,
      'the login error',
    );
    expect(status.connected).toBe(false);
    expect(status.lastError?.code).toBe('IMAP_AUTH');
    expect(status.lastError?.hint).toContain('IMAP_PASSWORD');
  });
});

describe('checkImap', () => {
  it('logs in and reports IDLE', async () => {
    const result = await checkImap(dovecot.settings());
    expect(result).toMatchObject({ ok: true, hint: null, details: { idle: true } });
    expect(result.message).toContain('IDLE supported');
  });

  it('explains a wrong password and an unreachable server', async () => {
    const bad = await checkImap(dovecot.settings({ auth: { user: dovecot.user, pass: 'nope' } }));
    expect(bad).toMatchObject({ ok: false, details: { code: 'IMAP_AUTH' } });
    expect(bad.hint).toContain('IMAP_PASSWORD');
    const closedPort = await checkImap(dovecot.settings({ port: 1 }), { timeoutMs: 3_000 });
    expect(closedPort).toMatchObject({ ok: false, details: { code: 'IMAP_CONNECT' } });
    expect(closedPort.hint).toContain('IMAP_PORT');
  });

  it('explains a TLS mode that does not match the server', async () => {
    // The test server speaks plain IMAP without STARTTLS.
    const starttls = await checkImap(dovecot.settings({ tls: 'starttls' }), { timeoutMs: 3_000 });
    expect(starttls).toMatchObject({ ok: false, details: { code: 'IMAP_TLS' } });
    expect(starttls.message).toContain('STARTTLS');
    const implicit = await checkImap(dovecot.settings({ tls: 'implicit' }), { timeoutMs: 3_000 });
    expect(implicit).toMatchObject({ ok: false, details: { code: 'IMAP_TLS' } });
    expect(implicit.hint).toContain('IMAP_TLS=starttls');
  });

  it('reports a missing mailbox', async () => {
    const result = await checkImap(dovecot.settings({ mailbox: 'does-not-exist' }));
    expect(result).toMatchObject({ ok: false, details: { code: 'IMAP_MAILBOX' } });
    expect(result.hint).toContain('IMAP_MAILBOX');
  });
});
