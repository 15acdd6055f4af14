// Test support for the notify stage: reports and summaries from tests/golden/inputs, digest entries,
// settings, a quiet logger, and seeding the pipeline store with a published report.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryFromStored, type DigestEntry } from '../../src/notify/digest.js';
import type { NotifySettings } from '../../src/notify/notify-settings.js';
import type { Report } from '../../src/parse/report.js';
import type { Store } from '../../src/queue/store.js';
import { createLogger, type Logger } from '../../src/shared/logger.js';
import type { Summary, SummaryRecord } from '../../src/summarize/summary.js';

const INPUTS = fileURLToPath(new URL('../golden/inputs/', import.meta.url));

/** The fixtures with a report and a summary in tests/golden/inputs. */
export const NOTIFY_FIXTURES = [
  'isw-roca-2025-03-02',
  'isw-iran-update-2025-05-14',
  'isw-roca-2024-01-26',
  'other-newsletter-2025-05-02',
] as const;
export type NotifyFixture = (typeof NOTIFY_FIXTURES)[number];

export interface FixtureReport {
  readonly reportId: string;
  readonly report: Report;
  readonly summary: Summary;
}

export function fixtureReport(name: NotifyFixture): FixtureReport {
  const read = (suffix: string): unknown =>
    JSON.parse(readFileSync(path.join(INPUTS, `${name}.${suffix}.json`), 'utf8'));
  return { reportId: `t-${name}`, report: read('report') as Report, summary: read('summary') as Summary };
}

/** The board URL tests give each fixture's post. */
export function postUrlOf(reportId: string): string {
  return `https://board.example.org/posts/${reportId}.html`;
}

export function fixtureEntry(name: NotifyFixture): DigestEntry {
  const f = fixtureReport(name);
  return entryFromStored({ ...f, postUrl: postUrlOf(f.reportId) });
}

/** A made-up entry of a given size, for size-budget tests (`i` makes each one different). */
export function syntheticEntry(i: number, takeawayChars = 600): DigestEntry {
  const base = fixtureEntry('isw-roca-2025-03-02');
  const day = 1 + (i % 28);
  return {
    ...base,
    reportId: `synthetic-${i}`,
    title: `러시아의 공세 캠페인 평가, 2025년 2월 ${day}일 (${i})`,
    headline: `러시아의 공세 캠페인 평가 (${i})`,
    takeaways: Array.from(
      { length: 6 },
      (_, k) => `${i}-${k}: ${'전황 분석 요점 문장입니다. '.repeat(Math.ceil(takeawayChars / 16))}`,
    ),
    publishedAt: new Date(Date.parse('2025-03-02T19:45:00-05:00') - i * 3600_000).toISOString(),
    postUrl: postUrlOf(`synthetic-${i}`),
  };
}

/** A summary as the pipeline stores it. */
export function summaryRecord(reportId: string, summary: Summary): SummaryRecord {
  return {
    reportId,
    summary,
    model: 'test-model',
    promptVersion: 'test',
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    estimatedCostUsd: 0,
    requestId: null,
    repairs: 0,
    createdAt: '2025-03-03T00:00:00.000Z',
  };
}

/**
 * Put a report, its summary, its board post (at `url`, default {@link postUrlOf}) and its publish
 * stage in the pipeline store, as after publish.
 */
export async function seedPublishedReport(
  store: Store,
  f: FixtureReport,
  target = 'file',
  url = postUrlOf(f.reportId),
): Promise<void> {
  await store.putReport(f.reportId, `email-${f.reportId}`, f.report);
  await store.putSummary(summaryRecord(f.reportId, f.summary));
  await store.setStage(f.reportId, 'publish', { state: 'done', at: f.report.publishedAt });
  await store.putPost({
    reportId: f.reportId,
    target,
    id: f.reportId,
    url,
    key: `isw-ko-${f.reportId}`,
    title: `[ISW] ${f.summary.title_ko}`,
    publishedAt: f.report.publishedAt,
    updatedAt: f.report.publishedAt,
    revisions: 1,
  });
}

export const TEST_SECRET = 'notify-test-secret-0123456789-abcdefghijklmnop';

/** Settings for tests: SMTP to the given URL (or the outbox), no rate limit, Seoul 08:00. */
export function testSettings(overrides: Partial<NotifySettings> = {}): NotifySettings {
  return {
    smtpUrl: null,
    from: { name: 'ISW 브리핑', address: 'briefing@isw-ko.example' },
    ratePerSecond: 0,
    poolSize: 4,
    outboxDir: '/nonexistent/outbox',
    publicBaseUrl: 'https://isw-ko.example',
    unsubscribeMailto: 'unsubscribe@isw-ko.example',
    tokenSecret: TEST_SECRET,
    digestTime: { hour: 8, minute: 0 },
    digestTimeZone: 'Asia/Seoul',
    bounceLimit: 2,
    ...overrides,
  };
}

/** A logger that writes nothing (set NOTIFY_TEST_LOG=debug to see it). */
export function quietLogger(): Logger {
  return createLogger({ level: process.env.NOTIFY_TEST_LOG ?? 'silent', format: 'json' });
}

/** A clock tests move by hand. */
export interface TestClock {
  (): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start: number): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}
