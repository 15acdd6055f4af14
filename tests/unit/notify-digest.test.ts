// Digest decisions (pure): Korean subject and dates, report order, daily windows, the HTML size budget, safe links.
import { describe, expect, it } from 'vitest';
import {
  dailyWindow,
  digestIds,
  digestSubject,
  entryFromStored,
  FIRST_DIGEST_LOOKBACK_MS,
  fitToBudget,
  koreanDate,
  koreanDateWithWeekday,
  MAX_DIGEST_LOOKBACK_MS,
  orderEntries,
  reportsInWindow,
} from '../../src/notify/digest.js';
import { fixtureEntry, fixtureReport, syntheticEntry } from '../support/notify-fixtures.js';

const HOUR = 3600_000;

describe('digest subject and dates', () => {
  it('names the first report with its ISW date and counts the rest', () => {
    const roca = fixtureEntry('isw-roca-2025-03-02');
    const iran = fixtureEntry('isw-iran-update-2025-05-14');
    expect(digestSubject([roca])).toBe('[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가');
    expect(digestSubject([roca, iran])).toBe(
      '[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가 외 1건',
    );
    expect(() => digestSubject([])).toThrow(RangeError);
  });

  it('dates a report as ISW does (US Eastern), not by the UTC or Seoul day', () => {
    // 7:45 pm ET on 2 March is already 3 March in UTC and in Seoul.
    expect(fixtureReport('isw-roca-2025-03-02').report.publishedAt).toBe('2025-03-02T19:45:00-05:00');
    expect(fixtureEntry('isw-roca-2025-03-02').date).toBe('2025년 3월 2일');
    expect(koreanDate(Date.parse('2025-03-02T23:00:00Z'), 'Asia/Seoul')).toBe('2025년 3월 3일');
    expect(koreanDateWithWeekday(Date.parse('2025-03-02T23:00:00Z'), 'Asia/Seoul')).toBe(
      '2025년 3월 3일 (월)',
    );
  });

  it('orders entries newest first by instant, not by string', () => {
    const a = {
      ...fixtureEntry('isw-roca-2025-03-02'),
      reportId: 'a',
      publishedAt: '2025-03-02T19:45:00-05:00',
    };
    const b = { ...a, reportId: 'b', publishedAt: '2025-03-03T00:30:00Z' }; // 19:30 ET: earlier than a
    const c = { ...a, reportId: 'c', publishedAt: '2025-03-03T09:00:00+09:00' }; // 00:00 UTC: earlier still
    expect(orderEntries([c, b, a]).map((e) => e.reportId)).toEqual(['a', 'b', 'c']);
  });

  it('makes ids without colons', () => {
    expect(digestIds.immediate('m0123')).toBe('rm0123');
    expect(digestIds.daily(Date.parse('2025-03-02T23:00:00Z'), 'Asia/Seoul')).toBe('d202503030800');
  });
});

describe('entryFromStored', () => {
  it('never passes on a tracking link: falls back to ISW’s own address for the product and date', () => {
    const f = fixtureReport('isw-roca-2025-03-02');
    expect(f.report.links.find((l) => l.kind === 'full-report')?.url).toContain('rs6.net');
    const entry = entryFromStored({ ...f, postUrl: null });
    expect(entry.fullReportUrl).toBe(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/',
    );
    expect(entry.headline).toBe('러시아의 공세 캠페인 평가');
    expect(entry.takeaways).toHaveLength(f.summary.key_takeaways_ko.length);
  });

  it('keeps a generic report’s Korean title as its headline', () => {
    const entry = fixtureEntry('other-newsletter-2025-05-02');
    expect(entry.headline).toBe(entry.title);
  });
});

describe('dailyWindow', () => {
  const runAt = Date.parse('2025-03-02T23:00:00Z');

  it('covers from the previous digest to the run, end to end', () => {
    const first = dailyWindow(runAt - 24 * HOUR, runAt);
    expect(first).toEqual({ from: runAt - 24 * HOUR, to: runAt });
    const next = dailyWindow(first.to, runAt + 24 * HOUR);
    expect(next.from).toBe(first.to);
  });

  it('looks back one day for a first digest and at most a week after a long pause', () => {
    expect(dailyWindow(null, runAt).from).toBe(runAt - FIRST_DIGEST_LOOKBACK_MS);
    expect(dailyWindow(runAt - 30 * 24 * HOUR, runAt).from).toBe(runAt - MAX_DIGEST_LOOKBACK_MS);
  });

  it('selects reports published after the start and up to the end', () => {
    const published = [
      { reportId: 'before', at: runAt - 25 * HOUR },
      { reportId: 'at-start', at: runAt - 24 * HOUR },
      { reportId: 'inside', at: runAt - HOUR },
      { reportId: 'at-end', at: runAt },
      { reportId: 'after', at: runAt + 1 },
    ];
    expect(reportsInWindow(published, dailyWindow(runAt - 24 * HOUR, runAt))).toEqual(['inside', 'at-end']);
  });
});

describe('fitToBudget', () => {
  const render = (sizes: number[]) => (n: number) =>
    'x'.repeat(sizes.slice(0, n).reduce((a, b) => a + b, 100) + (sizes.length - n) * 10);

  it('shows everything when it fits', () => {
    expect(fitToBudget(3, render([100, 100, 100]), 1000)).toMatchObject({ fullCount: 3 });
  });

  it('shows the largest number of reports in full that fits, linking the rest', () => {
    const sizes = [300, 300, 300, 300, 300];
    const fitted = fitToBudget(5, render(sizes), 1000);
    expect(fitted.fullCount).toBe(2);
    expect(fitted.bytes).toBeLessThanOrEqual(1000);
    expect(fitToBudget(5, render(sizes), 1030).fullCount).toBe(3);
  });

  it('falls back to links only when not even one report fits', () => {
    expect(fitToBudget(2, render([5000, 5000]), 500)).toMatchObject({ fullCount: 0 });
  });

  it('counts bytes, not characters (Korean is three bytes a character in UTF-8)', () => {
    const korean = (n: number): string => '가'.repeat(100 * (n + 1));
    expect(fitToBudget(3, korean, 700).fullCount).toBe(1);
  });

  it('keeps synthetic entries distinct', () => {
    expect(syntheticEntry(1).reportId).not.toBe(syntheticEntry(2).reportId);
  });
});
