// Crash safety: a worker SIGKILLed half-way through a 1,000-subscriber digest, then restarted: every subscriber gets the digest, one Message-ID each, and any extra copy is one the worker flagged (RFC 1047 window).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNotifyTemplates } from '../../src/notify/templates.js';
import { startNotifyWorkers, storeDigestSource, type NotifyWorkers } from '../../src/queue/notify-worker.js';
import { Store } from '../../src/queue/store.js';
import { fixtureReport, quietLogger, seedPublishedReport, testSettings } from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

const CHILD = fileURLToPath(new URL('../support/notify-worker-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUBSCRIBERS = 1000;
const CONCURRENCY = 16;

let redisServer: TestRedis;
let redis: Redis;
let smtp: TestSmtpServer;
let control: NotifyWorkers;
const children: ChildProcess[] = [];

function startChild(prefix: string): Promise<ChildProcess> {
  const child = fork(CHILD, [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      NOTIFY_CHILD_REDIS_URL: redisServer.url,
      NOTIFY_CHILD_PREFIX: prefix,
      NOTIFY_CHILD_SMTP_URL: smtp.url,
      NOTIFY_CHILD_CONCURRENCY: String(CONCURRENCY),
      NOTIFY_CHILD_PAGE: '100',
      NOTIFY_CHILD_LOCK_MS: '2000',
      NOTIFY_CHILD_STALLED_MS: '500',
    },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (m: { type?: string }) => {
      if (m.type === 'ready') resolve(child);
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`the worker child exited before it was ready (${String(code)}, ${String(signal)})`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
}

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = new Redis(redisServer.url);
  // A little latency per message, like a real server, so the kill lands in the middle of the run.
  smtp = await startTestSmtpServer({ dataDelayMs: 3 });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  await control.close();
  await smtp.close();
  await redis.quit();
  await redisServer.close();
});

describe('a digest to 1,000 subscribers survives SIGKILL half-way', () => {
  it('delivers exactly one digest to each subscriber after a restart', { timeout: 60_000 }, async () => {
    const prefix = freshPrefix('crash');
    const store = new Store(redis, prefix);
    // The test process only enqueues; the workers run in the children.
    control = await startNotifyWorkers({
      redis: { url: redisServer.url },
      prefix,
      logger: quietLogger(),
      settings: testSettings({ smtpUrl: smtp.url }),
      source: storeDigestSource(store, ['file']),
      workers: { fanOut: false, send: false },
      templates: await loadNotifyTemplates(),
    });
    const csv = [
      'address,mode',
      ...Array.from({ length: SUBSCRIBERS }, (_, i) => `reader${i}@example.org,immediate`),
    ].join('\n');
    expect(await control.subscribers.importCsv(Buffer.from(csv))).toMatchObject({
      added: SUBSCRIBERS,
      rejected: [],
    });
    const f = fixtureReport('isw-roca-2025-03-02');
    await seedPublishedReport(store, f);

    const first = await startChild(prefix);
    const firstExit = exited(first);
    expect(await control.onReportPublished(f.reportId)).toBe(true);
    await smtp.waitForAccepted(SUBSCRIBERS / 2, 30_000);
    first.kill('SIGKILL');
    await firstExit;
    const atKill = smtp.accepted;
    expect(atKill, 'the kill must land half-way, not after the run').toBeLessThan(SUBSCRIBERS);

    const second = await startChild(prefix);
    const deadline = Date.now() + 40_000;
    const addresses = Array.from({ length: SUBSCRIBERS }, (_, i) => `reader${i}@example.org`);
    for (;;) {
      const missing = addresses.filter((a) => smtp.acceptedFor(a) === 0).length;
      const counts = await control.sendQueue.getJobCounts('waiting', 'active', 'delayed');
      if (missing === 0 && Object.values(counts).every((n) => n === 0)) break;
      if (Date.now() > deadline)
        throw new Error(`not done: ${missing} subscribers without mail, queue ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    second.send({ type: 'close' });
    await exited(second);

    // Every subscriber has the digest, and all their copies are the same message (one Message-ID).
    const digestId = `r${f.reportId}`;
    const byRecipient = new Map<string, Set<string>>();
    for (const m of smtp.messages) {
      for (const to of m.to) {
        const ids = byRecipient.get(to) ?? new Set<string>();
        ids.add(m.messageId ?? '');
        byRecipient.set(to, ids);
      }
    }
    expect(byRecipient.size).toBe(SUBSCRIBERS);
    for (const [to, ids] of byRecipient) expect(ids.size, to).toBe(1);

    // Extra raw copies can only come from sends in flight at the kill whose "250" arrived but whose
    // sent marker did not get written (RFC 1047): each such retry is flagged as ambiguous.
    const stats = await control.notifyStore.stats(digestId);
    const extra = smtp.accepted - SUBSCRIBERS;
    expect(extra).toBeGreaterThanOrEqual(0);
    expect(extra, `extra copies ${extra}, flagged ${stats.ambiguous}`).toBeLessThanOrEqual(stats.ambiguous);
    expect(stats.ambiguous).toBeLessThanOrEqual(CONCURRENCY);
    expect(stats.sent).toBe(SUBSCRIBERS);
    expect(await redis.hlen(control.notifyStore.keys.sent(digestId))).toBe(SUBSCRIBERS);
    expect(await redis.hlen(control.notifyStore.keys.sending(digestId))).toBe(0);
  });
});
