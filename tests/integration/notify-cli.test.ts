// CLI commands `subscribers add|remove|list|import|export` and `digest preview|send [--dry-run]` against a real redis-server: an omitted mode or name keeps the subscriber's, rejected import rows fail the command after the rest is imported, board links (never a file:// page) and `send --report` checks.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerDigestCommands } from '../../src/cli/digest.js';
import { registerSubscriberCommands, type NotifyCliContext } from '../../src/cli/subscribers.js';
import { loadEnv, type Env } from '../../src/config/index.js';
import { digestIds } from '../../src/notify/digest.js';
import { NotifyStore } from '../../src/notify/notify-store.js';
import { SubscriberStore } from '../../src/notify/subscribers.js';
import { NOTIFY_QUEUE_NAMES } from '../../src/queue/notify-worker.js';
import { Store } from '../../src/queue/store.js';
import { Queue } from 'bullmq';
import { AppError, isAppError } from '../../src/shared/app-error.js';
import {
  fixtureReport,
  quietLogger,
  seedPublishedReport,
  summaryRecord,
  TEST_SECRET,
} from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let server: TestRedis;
let redis: Redis;
let dir: string;
let env: Env;
let out: string;
const NOW = Date.parse('2025-03-03T00:00:00Z');

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-cli-'));
});
afterAll(async () => {
  await redis.quit();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
const envWith = (vars: Record<string, string> = {}): Env =>
  loadEnv({
    env: {
      REDIS_URL: server.url,
      REDIS_PREFIX: freshPrefix('cli'),
      DATA_DIR: dir,
      TOKEN_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
      ...vars,
    },
    envFile: null,
  });
beforeEach(() => {
  env = envWith();
  out = '';
});

/** The subscriber and digest commands, writing into `out`. */
function program(): Command {
  const ctx: NotifyCliContext = {
    env: () => env,
    write: (text) => {
      out += text;
    },
    logger: quietLogger,
    clock: () => NOW,
  };
  const p = new Command('isw-ko').exitOverride();
  registerSubscriberCommands(p, ctx);
  registerDigestCommands(p, ctx);
  return p;
}

async function run(...args: string[]): Promise<string> {
  const before = out.length;
  await program().parseAsync(['node', 'isw-ko', ...args]);
  return out.slice(before);
}

/** A command that must fail with an AppError (which `main` turns into exit code 1). */
async function runFailing(...args: string[]): Promise<{ output: string; code: string; message: string }> {
  const before = out.length;
  try {
    await program().parseAsync(['node', 'isw-ko', ...args]);
  } catch (err) {
    if (!isAppError(err)) throw err;
    return { output: out.slice(before), code: err.code, message: err.message };
  }
  throw new Error(`isw-ko ${args.join(' ')} succeeded`);
}

describe('subscribers commands', () => {
  it('adds, lists, imports with a report, exports and removes', async () => {
    expect(
      await run('subscribers', 'add', 'Kim@Example.org', '--name', '김독자', '--mode', 'immediate'),
    ).toMatch(/^added: active +immediate +Kim@example\.org \(김독자\)/);
    const csv = path.join(dir, 'list.csv');
    writeFileSync(csv, 'email,name\r\nlee@example.org,이영희\r\nbroken,x\r\nkim@example.org,김독자\r\n');
    // A rejected row fails the command (exit code 1) after the good rows are imported.
    const before = out.length;
    await expect(run('subscribers', 'import', csv)).rejects.toMatchObject({ code: 'IMPORT_ROWS_REJECTED' });
    const report = out.slice(before);
    expect(report).toContain('3 rows (UTF-8)');
    // Kim's row has no mode column: Kim keeps immediate (the default is for new subscribers).
    expect(report).toContain('added 1, updated 0, unchanged 1, rejected 1');
    expect(report).toContain('line 3: broken — invalid address');
    const list = await run('subscribers', 'list');
    expect(list).toContain('lee@example.org (이영희)');
    expect(list).toContain('2 listed; 2 in all, active: 1 immediate, 1 daily');
    // Empty name and mode cells change nothing of an existing subscriber.
    const again = path.join(dir, 'again.csv');
    writeFileSync(again, 'email,name,mode\r\nlee@example.org,,\r\n');
    expect(await run('subscribers', 'import', again, '--mode', 'immediate')).toContain(
      'added 0, updated 0, unchanged 1, rejected 0',
    );
    expect(await run('subscribers', 'list')).toMatch(/active +daily +lee@example\.org \(이영희\)/);
    const exportFile = path.join(dir, 'export.csv');
    expect(await run('subscribers', 'export', '--out', exportFile)).toContain('written to');
    expect(
      readFileSync(exportFile, 'utf8')
        .split('\r\n')
        .filter((l) => l !== ''),
    ).toHaveLength(3);
    expect(await run('subscribers', 'remove', 'kim@example.org')).toBe('Kim@example.org: unsubscribed\n');
    expect(await run('subscribers', 'list', '--status', 'unsubscribed')).toContain('Kim@example.org');
    expect(await run('subscribers', 'remove', 'kim@example.org', '--purge')).toBe(
      'Kim@example.org: erased\n',
    );
    expect(await run('subscribers', 'remove', 'nobody@example.org')).toContain('not a subscriber');
  });
});

describe('digest commands', () => {
  /** What the file board records as a post's URL: a page on this machine. */
  const fileBoardUrl = (reportId: string): string => `file://${dir}/board/posts/isw-ko-${reportId}.html`;

  async function seed(posts: readonly { target: string; url: string }[] = []): Promise<string> {
    const f = fixtureReport('isw-roca-2025-03-02');
    const store = new Store(redis, env.REDIS_PREFIX);
    if (posts.length === 0) await seedPublishedReport(store, f);
    for (const post of posts) await seedPublishedReport(store, f, post.target, post.url);
    await new NotifyStore(redis, env.REDIS_PREFIX).recordPublished(f.reportId, NOW - 3600_000);
    const subscribers = new SubscriberStore(redis, env.REDIS_PREFIX, () => NOW);
    await subscribers.add({ address: 'daily@example.org', mode: 'daily', source: 'cli' });
    await subscribers.add({ address: 'instant@example.org', mode: 'immediate', source: 'cli' });
    return f.reportId;
  }

  it('writes a preview as .html, .txt and .eml', async () => {
    await seed();
    const base = path.join(dir, 'preview', 'daily');
    const said = await run('digest', 'preview', '--mode', 'daily', '--out', base);
    expect(said).toContain('subject: [ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(said).toMatch(/HTML: [\d.]+ KB of the 92 KB budget/);
    expect(readFileSync(`${base}.html`, 'utf8')).toContain('<html lang="ko"');
    expect(readFileSync(`${base}.txt`, 'utf8')).toContain('[주요 요점]');
    const mail = await simpleParser(readFileSync(`${base}.eml`));
    expect(mail.subject).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(mail.text).toContain('토레츠크');
  });

  it('fails with a clear error when there is nothing to preview', async () => {
    await expect(run('digest', 'preview')).rejects.toMatchObject({ code: 'REPORT_NOT_FOUND' });
  });

  it('shows who would get what with --dry-run, changing nothing, then queues the digest', async () => {
    const reportId = await seed();
    const daily = await run('digest', 'send', '--dry-run');
    expect(daily).toContain(
      'daily@example.org\t1 report(s)\t[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가',
    );
    expect(daily).not.toContain('instant@example.org');
    expect(daily).toContain(
      'dry run of the daily digest: 1 email(s) would be sent, 0 daily subscriber(s) have nothing new',
    );
    const immediate = await run('digest', 'send', '--dry-run', '--report', reportId);
    expect(immediate).toContain('instant@example.org\t1 report(s)');
    const queue = new Queue(NOTIFY_QUEUE_NAMES.fanOut, { connection: redis, prefix: env.REDIS_PREFIX });
    try {
      expect(await queue.count()).toBe(0);
      expect(
        (await new SubscriberStore(redis, env.REDIS_PREFIX).getByAddress('daily@example.org'))
          ?.dailyCoveredUntil,
      ).toBeNull();
      expect(await run('digest', 'send')).toMatch(/^queued daily digest d202503030900;/);
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    } finally {
      await queue.close();
    }
  });

  it('links no file-board page in a preview: with the default board alone, no board link at all', async () => {
    const reportId = await seed([{ target: 'file', url: fileBoardUrl('x') }]);
    const base = path.join(dir, 'preview', 'file-board');
    await run('digest', 'preview', '--report', reportId, '--out', base);
    const html = readFileSync(`${base}.html`, 'utf8');
    const text = readFileSync(`${base}.txt`, 'utf8');
    const eml = readFileSync(`${base}.eml`, 'latin1');
    for (const part of [html, text, eml]) {
      expect(part).not.toContain('file:');
      expect(part).not.toContain(dir);
      expect(part).not.toContain('게시판에서 전문 보기');
    }
    expect(html).not.toContain('href="#"');
    expect(html).toMatch(
      /<h2 class="report-title font"[^>]*>러시아의 공세 캠페인 평가, 2025년 3월 2일<\/h2>/,
    );
    expect(text).toContain('ISW 원문 보기 (영문): https://understandingwar.org/');
  });

  it('links the Rhymix post rather than the file board’s page when the report is on both', async () => {
    // A whole Rhymix configuration (a half one is refused at start-up); `digest preview` never connects.
    env = envWith({
      PUBLISH_TARGETS: 'file,rhymix',
      RHYMIX_URL: 'https://board.example.kr/',
      RHYMIX_MID: 'isw',
      RHYMIX_USER: 'bot',
      RHYMIX_PASSWORD: 'pw',
    });
    const rhymix = 'https://board.example.kr/index.php?mid=isw&document_srl=42';
    const reportId = await seed([
      { target: 'file', url: fileBoardUrl('x') },
      { target: 'rhymix', url: rhymix },
    ]);
    const base = path.join(dir, 'preview', 'rhymix');
    await run('digest', 'preview', '--report', reportId, '--out', base);
    const html = readFileSync(`${base}.html`, 'utf8');
    expect(html).toContain(`<a href="${rhymix.replace(/&/g, '&amp;')}"`);
    expect(html).toMatch(
      /<a class="button" href="https:\/\/board\.example\.kr\/index\.php\?mid=isw&amp;document_srl=42"/,
    );
    expect(readFileSync(`${base}.txt`, 'utf8')).toContain(`게시판에서 전문 보기: ${rhymix}`);
    expect(html).not.toContain('file:');
  });

  it('refuses `send --report` for a report that is missing, not published or held, queueing nothing', async () => {
    await seed();
    const store = new Store(redis, env.REDIS_PREFIX);
    const f = fixtureReport('isw-iran-update-2025-05-14');
    await store.putReport(f.reportId, `email-${f.reportId}`, f.report);
    await store.putSummary(summaryRecord(f.reportId, f.summary));
    const queue = new Queue(NOTIFY_QUEUE_NAMES.fanOut, { connection: redis, prefix: env.REDIS_PREFIX });
    try {
      for (const dryRun of [[], ['--dry-run']]) {
        const missing = run('digest', 'send', '--report', 'nonexistent', ...dryRun);
        await expect(missing).rejects.toBeInstanceOf(AppError);
        await expect(missing).rejects.toMatchObject({ code: 'REPORT_NOT_FOUND', kind: 'user' });
        await expect(run('digest', 'send', '--report', f.reportId, ...dryRun)).rejects.toMatchObject({
          code: 'NOT_PUBLISHED',
          message: expect.stringContaining('has not been published yet') as unknown,
        });
      }
      await store.setStage(f.reportId, 'publish', { state: 'held', at: '2025-05-14T00:00:00Z' });
      await expect(run('digest', 'send', '--report', f.reportId)).rejects.toMatchObject({
        code: 'NOT_PUBLISHED',
        message: expect.stringContaining('is held') as unknown,
      });
      expect(out).toBe('');
      expect(await queue.count()).toBe(0);
    } finally {
      await queue.close();
    }
  });

  it('counts in --dry-run as the real send does: not those who already had the report', async () => {
    const reportId = await seed();
    const subscribers = new SubscriberStore(redis, env.REDIS_PREFIX, () => NOW);
    await subscribers.add({ address: 'later@example.org', mode: 'immediate', source: 'cli' });
    const instant = await subscribers.getByAddress('instant@example.org');
    const instantId = instant?.id ?? '';
    // As the send worker records an email SMTP accepted.
    await new NotifyStore(redis, env.REDIS_PREFIX).finishSend(
      digestIds.immediate(reportId),
      instantId,
      subscribers.keys.subscriber(instantId),
      '{}',
    );
    const said = await run('digest', 'send', '--dry-run', '--report', reportId);
    expect(said).toContain('later@example.org\t1 report(s)');
    expect(said).not.toContain('instant@example.org');
    expect(said).toContain(
      `dry run of report ${reportId} (immediate subscribers): 1 email(s) would be sent, 1 subscriber(s) already had it (skipped)\n`,
    );
  });
});

describe('subscribers add', () => {
  it('keeps an existing subscriber’s mode and name when they are left out; daily is for new ones', async () => {
    expect(
      await run('subscribers', 'add', 'erin@example.org', '--mode', 'immediate', '--name', 'Erin'),
    ).toMatch(/^added: active +immediate +erin@example\.org \(Erin\)/);
    expect(await run('subscribers', 'add', 'erin@example.org')).toMatch(
      /^unchanged: active +immediate +erin@example\.org \(Erin\)/,
    );
    expect(await run('subscribers', 'add', 'erin@example.org', '--mode', 'daily')).toMatch(
      /^updated: active +daily +erin@example\.org \(Erin\)/,
    );
    expect(await run('subscribers', 'add', 'new@example.org')).toMatch(
      /^added: active +daily +new@example\.org/,
    );
  });

  it('says so in its help', () => {
    const add = program()
      .commands.find((c) => c.name() === 'subscribers')
      ?.commands.find((c) => c.name() === 'add');
    const help = (add?.helpInformation() ?? '').replace(/\s+/g, ' ');
    expect(help).toContain('left out: daily for a new subscriber, an existing one keeps theirs');
    expect(help).toContain('left out: an existing name is kept');
    expect(help).not.toContain('default: "daily"');
  });
});

describe('subscribers import', () => {
  it('fails when rows were rejected, after importing the good ones and saying so', async () => {
    const csv = path.join(dir, 'mixed.csv');
    writeFileSync(
      csv,
      'email,mode\r\na@example.org,daily\r\nb@example.org,immediate\r\nbroken,daily\r\nc@example.org,weekly\r\n',
    );
    const failed = await runFailing('subscribers', 'import', csv);
    expect(failed.code).toBe('IMPORT_ROWS_REJECTED');
    expect(failed.message).toBe('2 of 4 rows rejected (listed above); the other 2 rows were imported');
    expect(failed.output).toContain('added 2, updated 0, unchanged 0, rejected 2');
    expect(failed.output).toContain('line 4: broken — invalid address');
    expect(failed.output).toContain('line 5: c@example.org — unknown mode "weekly"');
    expect(await run('subscribers', 'list')).toContain('2 listed; 2 in all, active: 1 immediate, 1 daily');
    // A dry run fails alike, and writes nothing.
    const dry = await runFailing('subscribers', 'import', csv, '--dry-run');
    expect(dry.message).toBe(
      '2 of 4 rows rejected (listed above); the other 2 rows would be imported (dry run, nothing written)',
    );
  });

  it('succeeds when nothing was rejected, and counts one row as one row', async () => {
    const one = path.join(dir, 'one.csv');
    writeFileSync(one, 'email\r\nd@example.org\r\n');
    expect(await run('subscribers', 'import', one)).toBe(
      `${one}: 1 row (UTF-8)\n  added 1, updated 0, unchanged 0, rejected 0\n`,
    );
    writeFileSync(one, 'email\r\nd@example.org\r\nbad\r\n');
    expect((await runFailing('subscribers', 'import', one)).message).toBe(
      '1 of 2 rows rejected (listed above); the other 1 row was imported',
    );
  });

  it('shows an opted-out subscriber’s unconfirmed request to come back in the list', async () => {
    await run('subscribers', 'add', 'alice@example.org', '--name', 'Alice');
    await run('subscribers', 'remove', 'alice@example.org');
    // Someone types her address into the public form.
    await new SubscriberStore(redis, env.REDIS_PREFIX, () => NOW).requestSubscription({
      address: 'alice@example.org',
      mode: 'immediate',
    });
    expect(await run('subscribers', 'list')).toMatch(
      /^unsubscribed +daily +alice@example\.org \(Alice\) .* asked on the web 2025-03-03 to get immediate again; not confirmed yet$/m,
    );
    const csv = path.join(dir, 'alice.csv');
    writeFileSync(csv, 'email\r\nalice@example.org\r\n');
    expect((await runFailing('subscribers', 'import', csv)).output).toContain(
      'opted out: unsubscribed; re-adding needs --force',
    );
  });
});
