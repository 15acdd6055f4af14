// Digest delivery through the notify queues to a real SMTP server: immediate and daily digests (controllable clock, time zone), MIME checks, 4xx retry, 5xx bounces, config pause, outbox files, the job scheduler.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { load } from 'cheerio';
import { simpleParser, type ParsedMail } from 'mailparser';
import { createLogger } from '../../src/shared/logger.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fanOut } from '../../src/notify/fan-out.js';
import { createOutboxMailer } from '../../src/notify/mailer.js';
import { NotifyStore } from '../../src/notify/notify-store.js';
import { SubscriberStore } from '../../src/notify/subscribers.js';
import { nextDailyRun } from '../../src/notify/schedule.js';
import { loadNotifyTemplates } from '../../src/notify/templates.js';
import { verifyToken } from '../../src/notify/tokens.js';
import type { NotifySettings } from '../../src/notify/notify-settings.js';
import {
  notifyJobIds,
  startNotifyWorkers,
  storeDigestSource,
  type NotifyWorkers,
} from '../../src/queue/notify-worker.js';
import { Store } from '../../src/queue/store.js';
import {
  fixtureReport,
  postUrlOf,
  quietLogger,
  seedPublishedReport,
  TEST_SECRET,
  testClock,
  testSettings,
  type NotifyFixture,
} from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

let redisServer: TestRedis;
let redis: Redis;
let smtp: TestSmtpServer;
const running: NotifyWorkers[] = [];
const HOUR = 3600_000;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = new Redis(redisServer.url);
  smtp = await startTestSmtpServer();
});
afterEach(async () => {
  for (const n of running.splice(0)) await n.close();
  smtp.clearRules();
});
afterAll(async () => {
  await smtp.close();
  await redis.quit();
  await redisServer.close();
});

interface Harness {
  readonly notify: NotifyWorkers;
  readonly store: Store;
  readonly clock: ReturnType<typeof testClock>;
  readonly settings: NotifySettings;
  readonly prefix: string;
}

async function harness(
  start = Date.parse('2025-03-03T00:00:00Z'),
  overrides: Partial<NotifySettings> = {},
  logger = quietLogger(),
): Promise<Harness> {
  const prefix = freshPrefix('deliv');
  const clock = testClock(start);
  const store = new Store(redis, prefix);
  const settings = testSettings({ smtpUrl: smtp.url, ...overrides });
  const notify = await startNotifyWorkers({
    redis: { url: redisServer.url },
    prefix,
    logger,
    settings,
    source: storeDigestSource(store, ['file']),
    workers: { fanOut: true, send: true },
    templates: await loadNotifyTemplates(),
    clock,
    backoffScale: 0.001,
    configPauseMs: 300,
  });
  running.push(notify);
  return { notify, store, clock, settings, prefix };
}

/** Wait until the notify queues have nothing left to do (or fail after `timeoutMs`). */
async function drained(notify: NotifyWorkers, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [a, b] = await Promise.all([
      notify.fanOutQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
      notify.sendQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
    ]);
    const busy = Object.values(a).reduce((x, y) => x + y, 0) + Object.values(b).reduce((x, y) => x + y, 0);
    if (busy === 0) return;
    if (Date.now() > deadline)
      throw new Error(`the notify queues did not drain: ${JSON.stringify({ a, b })}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function publish(h: Harness, name: NotifyFixture, at: number): Promise<string> {
  const f = fixtureReport(name);
  await seedPublishedReport(h.store, f);
  await h.notify.onReportPublished(f.reportId, at);
  return f.reportId;
}

function received(address: string): ParsedMailPromise[] {
  return smtp.messages.filter((m) => m.to.includes(address)).map((m) => simpleParser(m.raw));
}
type ParsedMailPromise = Promise<ParsedMail>;

const rawHeader = (mail: ParsedMail, name: string): string =>
  (mail.headerLines.find((h) => h.key === name)?.line ?? '')
    .replace(/^[^:]+:\s*/, '')
    .replace(/\r?\n[ \t]+/g, ' ');

describe('immediate digests', () => {
  it('mails every active immediate subscriber once per report, with both parts, headers, links and a valid token', async () => {
    const h = await harness();
    const { subscribers } = h.notify;
    const addresses = ['i1@example.org', 'i2@example.org', 'i3@example.org'];
    for (const a of addresses)
      await subscribers.add({ address: a, name: '독자', mode: 'immediate', source: 'cli' });
    await subscribers.add({ address: 'd1@example.org', mode: 'daily', source: 'cli' });
    const { subscriber: gone } = await subscribers.add({
      address: 'gone@example.org',
      mode: 'immediate',
      source: 'cli',
    });
    await subscribers.unsubscribe(gone.id, 'web');

    const reportId = await publish(h, 'isw-roca-2025-03-02', h.clock());
    await drained(h.notify);
    for (const a of addresses) expect(smtp.acceptedFor(a), a).toBe(1);
    expect(smtp.acceptedFor('d1@example.org')).toBe(0);
    expect(smtp.acceptedFor('gone@example.org')).toBe(0);

    const [mailPromise] = received('i2@example.org');
    const mail = await (mailPromise ?? Promise.reject(new Error('no mail')));
    expect(mail.subject).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(mail.text).toContain('[주요 요점]');
    expect(mail.text).toContain('토레츠크');
    expect(typeof mail.html === 'string' && mail.html.includes('벨리카 노보실카')).toBe(true);
    const $ = load(typeof mail.html === 'string' ? mail.html : '');
    const hrefs = $('a')
      .toArray()
      .map((a) => $(a).attr('href') ?? '');
    expect(hrefs).toContain(postUrlOf(reportId));
    expect(hrefs).toContain(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/',
    );
    for (const href of hrefs) expect(() => new URL(href)).not.toThrow();
    expect(rawHeader(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    const m = /^<(https:[^>]+)>,\s*<(mailto:[^>]+)>$/.exec(rawHeader(mail, 'list-unsubscribe'));
    expect(m).not.toBeNull();
    const token = new URL(m?.[1] ?? '').searchParams.get('token') ?? '';
    expect(
      verifyToken(token, 'unsubscribe', 'i2@example.org', TEST_SECRET, { now: h.clock() }).subscriberId,
    ).toBe((await subscribers.getByAddress('i2@example.org'))?.id);
    expect(() =>
      verifyToken(token, 'unsubscribe', 'i1@example.org', TEST_SECRET, { now: h.clock() }),
    ).toThrow();
    expect(hrefs).toContain(m?.[1]);
    expect(mail.messageId).toMatch(/^<notify-r[^>]+@isw-ko\.example>$/);

    // Publishing the same report again (an edit) notifies nobody again.
    expect(await h.notify.onReportPublished(reportId, h.clock() + 1000)).toBe(false);
    await drained(h.notify);
    for (const a of addresses) expect(smtp.acceptedFor(a)).toBe(1);
    expect(await h.notify.notifyStore.stats(`r${reportId}`)).toMatchObject({
      enqueued: 3,
      sent: 3,
      failed: 0,
      ambiguous: 0,
    });
  });

  it('retries a 4xx with backoff until the server takes the message: one copy, logged as warnings', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger(
      { level: 'debug', format: 'json' },
      { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    const h = await harness(undefined, {}, logger);
    await h.notify.subscribers.add({ address: 'greylist@example.org', mode: 'immediate', source: 'cli' });
    smtp.respond({
      stage: 'rcpt',
      address: 'greylist@example.org',
      code: 451,
      message: 'Greylisted, try again',
      times: 2,
    });
    smtp.respond({
      stage: 'data',
      address: 'greylist@example.org',
      code: 452,
      message: 'Insufficient storage',
      times: 1,
    });
    const reportId = await publish(h, 'isw-iran-update-2025-05-14', h.clock());
    await drained(h.notify);
    expect(smtp.acceptedFor('greylist@example.org')).toBe(1);
    const subscriber = await h.notify.subscribers.getByAddress('greylist@example.org');
    const job = await h.notify.sendQueue.getJob(notifyJobIds.send(`r${reportId}`, subscriber?.id ?? ''));
    expect(job?.attemptsMade).toBeGreaterThanOrEqual(3);
    expect(subscriber?.bounceCount).toBe(0);
    // A retry is not an error (pino: 40 warn, 50 error): only a failure for good is.
    expect(lines.some((l) => l.level === 40 && /451|452|retried/.test(JSON.stringify(l)))).toBe(true);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('counts 5xx rejections of a recipient and stops mailing them at BOUNCE_LIMIT, keeping the reason', async () => {
    const h = await harness(undefined, { bounceLimit: 2 });
    const { subscribers } = h.notify;
    await subscribers.add({ address: 'nobody@example.org', mode: 'immediate', source: 'cli' });
    await subscribers.add({ address: 'fine@example.org', mode: 'immediate', source: 'cli' });
    smtp.respond({
      stage: 'rcpt',
      address: 'nobody@example.org',
      code: 550,
      message: '<nobody@example.org>: User unknown',
    });

    const first = await publish(h, 'isw-roca-2025-03-02', h.clock());
    await drained(h.notify);
    expect(await subscribers.getByAddress('nobody@example.org')).toMatchObject({
      status: 'active',
      bounceCount: 1,
    });
    const id = (await subscribers.getByAddress('nobody@example.org'))?.id ?? '';
    const failed = await h.notify.sendQueue.getJob(notifyJobIds.send(`r${first}`, id));
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.failedReason).toContain('SMTP_RECIPIENT_REJECTED');
    expect(failed?.attemptsMade).toBe(1);

    await publish(h, 'isw-iran-update-2025-05-14', h.clock());
    await drained(h.notify);
    const bounced = await subscribers.getByAddress('nobody@example.org');
    expect(bounced).toMatchObject({ status: 'bounced', bounceCount: 2 });
    expect(bounced?.lastBounceReason).toContain('550 5.1.1 <nobody@example.org>: User unknown');

    await publish(h, 'isw-roca-2024-01-26', h.clock());
    await drained(h.notify);
    expect(smtp.acceptedFor('nobody@example.org')).toBe(0);
    expect(smtp.acceptedFor('fine@example.org')).toBe(3);
  });

  it('pauses sending (no attempt used) when the server refuses our sender, and resumes', async () => {
    const h = await harness();
    await h.notify.subscribers.add({ address: 'patient@example.org', mode: 'immediate', source: 'cli' });
    smtp.respond({ stage: 'mail', code: 550, message: 'Sender address rejected', times: 1 });
    await publish(h, 'other-newsletter-2025-05-02', h.clock());
    await drained(h.notify);
    expect(smtp.acceptedFor('patient@example.org')).toBe(1);
  });
});

describe('exactly once per (digest, subscriber)', () => {
  it('skips what SMTP already accepted when a digest is fanned out again, and reaches only newcomers', async () => {
    const h = await harness();
    for (const a of ['once-a@example.org', 'once-b@example.org']) {
      await h.notify.subscribers.add({ address: a, mode: 'immediate', source: 'cli' });
    }
    const reportId = await publish(h, 'isw-roca-2025-03-02', h.clock());
    await drained(h.notify);
    // The send jobs are gone (retention), a newcomer subscribed, and an admin re-sends the report.
    await h.notify.sendQueue.clean(0, 10_000, 'completed');
    await h.notify.subscribers.add({ address: 'once-new@example.org', mode: 'immediate', source: 'cli' });
    expect(await h.notify.renotify(reportId)).toContain(`r${reportId}`);
    await drained(h.notify);
    expect(smtp.acceptedFor('once-a@example.org')).toBe(1);
    expect(smtp.acceptedFor('once-b@example.org')).toBe(1);
    expect(smtp.acceptedFor('once-new@example.org')).toBe(1);
    const status = await h.notify.mailStatus(reportId);
    expect(status).toMatchObject({ state: 'done', detail: '즉시 발송 3건' });
    expect(await h.notify.notifyStore.stats(`r${reportId}`)).toMatchObject({ sent: 3, alreadySent: 2 });
  });

  it('resends after an unfinished attempt with the same Message-ID, counting it as a possible duplicate', async () => {
    const h = await harness();
    const { subscriber } = await h.notify.subscribers.add({
      address: 'crashy@example.org',
      mode: 'immediate',
      source: 'cli',
    });
    const f = fixtureReport('isw-iran-update-2025-05-14');
    await seedPublishedReport(h.store, f);
    const digestId = `r${f.reportId}`;
    // What a worker killed between claiming and recording leaves behind.
    await redis.hset(
      h.notify.notifyStore.keys.sending(digestId),
      subscriber.id,
      '{"jobId":"killed","attempt":1}',
    );
    await h.notify.onReportPublished(f.reportId, h.clock());
    await drained(h.notify);
    expect(smtp.acceptedFor('crashy@example.org')).toBe(1);
    const mail = await (received('crashy@example.org')[0] ?? Promise.reject(new Error('none')));
    expect(mail.messageId).toBe(`<notify-${digestId}-${subscriber.id}@isw-ko.example>`);
    expect(await h.notify.notifyStore.stats(digestId)).toMatchObject({ sent: 1, ambiguous: 1 });
    expect(await redis.hexists(h.notify.notifyStore.keys.sending(digestId), subscriber.id)).toBe(0);
  });
});

describe('fan-out', () => {
  it('pages through subscribers and, resumed after a page, enqueues only the rest', async () => {
    const prefix = freshPrefix('fan');
    const subscribers = new SubscriberStore(redis, prefix);
    const notifyStore = new NotifyStore(redis, prefix);
    for (let i = 0; i < 25; i += 1)
      await subscribers.add({ address: `fan${i}@example.org`, mode: 'immediate', source: 'cli' });
    const deps = {
      subscribers,
      notifyStore,
      timeZone: 'Asia/Seoul',
      clock: () => 0,
      logger: quietLogger(),
      pageSize: 10,
    };
    const run = async (resumeAfter: string | null): Promise<{ ids: string[]; pages: string[] }> => {
      const ids: string[] = [];
      const pages: string[] = [];
      await fanOut({ kind: 'report', reportId: 'rep' }, resumeAfter, deps, {
        enqueue: (orders) => {
          ids.push(...orders.map((o) => o.subscriberId));
          return Promise.resolve();
        },
        progress: (after) => {
          pages.push(after);
          return Promise.resolve();
        },
      });
      return { ids, pages };
    };
    const full = await run(null);
    expect(full.ids).toHaveLength(25);
    expect(new Set(full.ids).size).toBe(25);
    expect(full.pages).toHaveLength(3);
    const resumed = await run(full.pages[0] ?? null);
    expect(resumed.ids).toEqual(full.ids.slice(10));
  });
});

describe('send rate', () => {
  it('holds MAIL_RATE_PER_SECOND across the send queue', async () => {
    const h = await harness(undefined, { ratePerSecond: 4 });
    for (let i = 0; i < 9; i += 1) {
      await h.notify.subscribers.add({ address: `rate${i}@example.org`, mode: 'immediate', source: 'cli' });
    }
    const before = smtp.messages.length;
    await publish(h, 'isw-roca-2025-03-02', h.clock());
    await drained(h.notify);
    const times = smtp.messages.slice(before).map((m) => m.receivedAt);
    expect(times).toHaveLength(9);
    // 9 messages at 4 a second take three one-second windows: about two seconds from first to last
    // (unlimited, they take a few milliseconds). Some slack for when each job starts in its window.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1500);
  });
});

describe('daily digests', () => {
  it('cover the reports published since each subscriber’s previous digest, at 08:00 Seoul; no reports, no email', async () => {
    // 05:00 on Monday 3 March in Seoul.
    const h = await harness(Date.parse('2025-03-02T20:00:00Z'));
    const { subscribers } = h.notify;
    const { subscriber: fresh } = await subscribers.add({
      address: 'fresh@example.org',
      mode: 'daily',
      source: 'cli',
    });
    const { subscriber: regular } = await subscribers.add({
      address: 'regular@example.org',
      mode: 'daily',
      source: 'cli',
    });
    await subscribers.add({ address: 'instant@example.org', mode: 'immediate', source: 'cli' });
    await subscribers.advanceCoveredUntil([{ id: regular.id, until: Date.parse('2025-03-01T12:00:00Z') }]);

    const runAt = nextDailyRun(h.settings.digestTime, h.settings.digestTimeZone, h.clock());
    expect(new Date(runAt).toISOString()).toBe('2025-03-02T23:00:00.000Z');
    // Published 25 h before the run (older than a first digest looks back), 13 h before, 30 min after.
    const older = await publish(h, 'isw-roca-2024-01-26', runAt - 25 * HOUR);
    const recent = await publish(h, 'isw-roca-2025-03-02', runAt - 13 * HOUR);
    const late = await publish(h, 'isw-iran-update-2025-05-14', runAt + HOUR / 2);
    await drained(h.notify);
    expect(smtp.acceptedFor('instant@example.org')).toBe(3);

    h.clock.set(runAt);
    const digestId = await h.notify.sendDaily(runAt);
    expect(digestId).toBe('d202503030800');
    await drained(h.notify);
    const freshMail = await (received('fresh@example.org')[0] ?? Promise.reject(new Error('none')));
    const regularMail = await (received('regular@example.org')[0] ?? Promise.reject(new Error('none')));
    expect(received('fresh@example.org')).toHaveLength(1);
    expect(freshMail.subject).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(regularMail.subject).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가 외 1건');
    for (const mail of [freshMail, regularMail]) {
      expect(mail.text).toContain('2025년 3월 3일 (월)');
      expect(mail.text).not.toContain('이란 업데이트');
    }
    expect(regularMail.text).toContain('2024년 1월 26일');
    expect(smtp.acceptedFor('instant@example.org')).toBe(3);
    expect((await subscribers.get(fresh.id))?.dailyCoveredUntil).toBe(runAt);

    // A report published a minute before that run but recorded only after its fan-out read the
    // windows: not lost, it goes into the next digest.
    await publish(h, 'other-newsletter-2025-05-02', runAt - 60_000);

    // The next morning covers only what came after: the late report (and that one), for both.
    const nextRun = runAt + 24 * HOUR;
    h.clock.set(nextRun);
    await h.notify.sendDaily(nextRun);
    await drained(h.notify);
    for (const a of ['fresh@example.org', 'regular@example.org']) {
      const mails = await Promise.all(received(a));
      expect(mails).toHaveLength(2);
      expect(mails[1]?.subject).toBe('[ISW 브리핑] 2025년 5월 14일 — 이란 업데이트 외 1건');
      expect(mails[1]?.text).toContain('2025년 3월 4일 (화)');
      expect(mails[1]?.text).toContain('미국-우크라이나 광물 협정에 불안해하는 모스크바');
    }

    // Nothing new: no email at all.
    const third = nextRun + 24 * HOUR;
    await h.notify.sendDaily(third);
    await drained(h.notify);
    expect(received('fresh@example.org')).toHaveLength(2);
    expect(await h.notify.notifyStore.stats('d202503050800')).toMatchObject({ enqueued: 0, empty: 2 });
    // Running a digest twice sends nothing twice.
    await h.notify.sendDaily(runAt);
    await drained(h.notify);
    expect(received('regular@example.org')).toHaveLength(2);
    expect([older, recent, late]).toHaveLength(3);
  });

  it('uses the job scheduler’s time for a scheduled run, and schedules 08:00 in the configured zone', async () => {
    const h = await harness(Date.parse('2025-03-02T20:00:00Z'));
    await h.notify.subscribers.add({ address: 'sched@example.org', mode: 'daily', source: 'cli' });
    const runAt = Date.parse('2025-03-02T23:00:00Z');
    await publish(h, 'isw-roca-2025-03-02', runAt - HOUR);
    // What the scheduler adds: no runAt in the data, the scheduled time in prevMillis.
    await h.notify.fanOutQueue.add(
      'daily',
      { kind: 'daily' },
      { jobId: 'scheduled-like', prevMillis: runAt },
    );
    await drained(h.notify);
    const mail = await (received('sched@example.org')[0] ?? Promise.reject(new Error('none')));
    expect(mail.messageId).toContain('notify-d202503030800-');

    const next = await h.notify.ensureDailySchedule();
    expect(next).toBe(nextDailyRun({ hour: 8, minute: 0 }, 'Asia/Seoul', Date.now()));
    const ny = await harness(Date.now(), {
      digestTime: { hour: 6, minute: 30 },
      digestTimeZone: 'America/New_York',
    });
    expect(await ny.notify.ensureDailySchedule()).toBe(
      nextDailyRun({ hour: 6, minute: 30 }, 'America/New_York', Date.now()),
    );
    const scheduler = await ny.notify.fanOutQueue.getJobScheduler(notifyJobIds.dailyScheduler);
    expect(scheduler).toMatchObject({ pattern: '30 6 * * *', tz: 'America/New_York' });
  });
});

describe('outbox (no SMTP configured)', () => {
  it('writes each email once as an .eml file named by its Message-ID', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-outbox-'));
    try {
      const mailer = createOutboxMailer({ dir });
      const mail = {
        from: { name: 'ISW 브리핑', address: 'briefing@isw-ko.example' },
        to: { name: null, address: 'reader@example.org' },
        subject: '[ISW 브리핑] 시험',
        html: '<p>한국어</p>',
        text: '한국어',
        messageId: 'notify-rm1-s1@isw-ko.example',
        unsubscribe: { url: 'https://isw-ko.example/unsubscribe?token=x', mailto: 'mailto:u@isw-ko.example' },
      };
      const first = await mailer.send(mail);
      await mailer.send(mail);
      expect(readdirSync(dir)).toEqual(['notify-rm1-s1_isw-ko.example.eml']);
      const parsed = await simpleParser(readFileSync(first.file ?? ''));
      expect(parsed.subject).toBe('[ISW 브리핑] 시험');
      expect(rawHeader(parsed, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
