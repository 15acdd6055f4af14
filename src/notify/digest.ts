import type { Report } from '../parse/report.js';
import { iswReportUrl } from '../publish/isw-products.js';
import { cleanPublicUrl } from '../publish/tracking.js';
import type { Summary } from '../summarize/summary.js';
import { minuteStamp, zonedParts } from './schedule.js';

/**
 * What a digest is and which reports go into it. Pure: the worker loads reports and subscribers,
 * these functions decide.
 */

/** `immediate`: one email per report, when it is published. `daily`: one digest a day. */
export type DeliveryMode = 'immediate' | 'daily';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['immediate', 'daily'];

/** ISW dates its reports in US Eastern time; the board titles and the digests show that date. */
export const REPORT_TIME_ZONE = 'America/New_York';

/** One report as a digest shows it. Plain JSON. */
export interface DigestEntry {
  readonly reportId: string;
  /** The summary's Korean title: "러시아의 공세 캠페인 평가, 2025년 3월 2일". */
  readonly title: string;
  /** The title without its trailing date, for subject lines: "러시아의 공세 캠페인 평가". */
  readonly headline: string;
  /** The report's date in Korean ("2025년 3월 2일"), as ISW dates it (US Eastern). */
  readonly date: string;
  readonly takeaways: readonly string[];
  readonly categories: readonly string[];
  readonly countries: readonly { readonly name: string; readonly note: string | null }[];
  readonly outlook: string;
  /**
   * The post on a board subscribers can open (Rhymix, a webhook receiver's site): http(s) only, see
   * {@link publicPostUrl}. Null when the report is only on the file board.
   */
  readonly postUrl: string | null;
  /** The full report on the publisher's site: never a tracking link (they identify our inbox). */
  readonly fullReportUrl: string | null;
  /** ISO 8601, from the report. */
  readonly publishedAt: string;
}

/**
 * A post's address as an email may carry it: http(s) only. The file board's posts are `file://`
 * paths on the bot's own disk — no use to a subscriber, and they would show the server's layout —
 * and a digest without a link is better than one whose button goes nowhere.
 */
export function publicPostUrl(url: string | null | undefined): string | null {
  const text = url?.trim() ?? '';
  if (!URL.canParse(text)) return null;
  const { protocol } = new URL(text);
  return protocol === 'https:' || protocol === 'http:' ? text : null;
}

const TRAILING_KOREAN_DATE = /[,，]?\s*\d{4}년\s*\d{1,2}월\s*\d{1,2}일\s*$/;

/**
 * A digest entry from what the pipeline stored. The full-report link is the email's own when it
 * is already public; a Constant Contact tracking link is never passed on (it identifies our inbox)
 * and is replaced by ISW's address for the product and date, when known. A board link that is not
 * http(s) (the file board's) is dropped: the email then shows the title without a link.
 */
export function entryFromStored(input: {
  readonly reportId: string;
  readonly report: Report;
  readonly summary: Summary;
  /** The report's post, if any: kept only when {@link publicPostUrl} lets it through. */
  readonly postUrl: string | null;
}): DigestEntry {
  const { report, summary } = input;
  const link = report.links.find((l) => l.kind === 'full-report');
  const fullReportUrl =
    (link === undefined ? null : cleanPublicUrl(link.url)) ??
    iswReportUrl(report.product, report.publishedAt);
  const headline = summary.title_ko.replace(TRAILING_KOREAN_DATE, '').trim();
  return {
    reportId: input.reportId,
    title: summary.title_ko,
    headline: headline === '' ? summary.title_ko : headline,
    date: koreanDate(Date.parse(report.publishedAt), REPORT_TIME_ZONE),
    takeaways: summary.key_takeaways_ko,
    categories: summary.categories,
    countries: summary.countries.map((c) => ({ name: c.name_ko, note: c.note })),
    outlook: summary.outlook_ko,
    postUrl: publicPostUrl(input.postUrl),
    fullReportUrl,
    publishedAt: report.publishedAt,
  };
}

/** Newest first (by instant, not by string: offsets differ between sources), ties by report id. */
export function orderEntries(entries: readonly DigestEntry[]): DigestEntry[] {
  return [...entries].sort((a, b) => {
    const d = Date.parse(b.publishedAt) - Date.parse(a.publishedAt);
    return d !== 0 && !Number.isNaN(d) ? d : a.reportId.localeCompare(b.reportId);
  });
}

const WEEKDAYS_KO = ['일', '월', '화', '수', '목', '금', '토'];

/** "2025년 3월 2일" in `timeZone`, assembled from parts so it does not change with the ICU version. */
export function koreanDate(instant: number, timeZone: string): string {
  if (Number.isNaN(instant)) return '';
  const p = zonedParts(instant, timeZone);
  return `${p.year}년 ${p.month}월 ${p.day}일`;
}

/** "2025년 3월 3일 (월)". */
export function koreanDateWithWeekday(instant: number, timeZone: string): string {
  const p = zonedParts(instant, timeZone);
  return `${koreanDate(instant, timeZone)} (${WEEKDAYS_KO[p.weekday] ?? ''})`;
}

/** The brand in every subject line. */
export const SUBJECT_PREFIX = '[ISW 브리핑]';

/**
 * `[ISW 브리핑] 2025년 3월 2일 — 러시아의 공세 캠페인 평가 외 1건`: the date and headline of the first
 * (newest) report, and how many more the email holds. The date is the report's own (ISW's, US
 * Eastern), the same as on the board, rather than the day the digest goes out.
 */
export function digestSubject(entries: readonly DigestEntry[]): string {
  const [lead] = entries;
  if (lead === undefined) throw new RangeError('a digest needs at least one report');
  const more = entries.length - 1;
  const date = lead.date === '' ? '' : `${lead.date} — `;
  return `${SUBJECT_PREFIX} ${date}${lead.headline}${more > 0 ? ` 외 ${more}건` : ''}`;
}

/** Digest ids: no `:` (BullMQ reserves it), stable for the same digest. */
export const digestIds = {
  /** The email about one report, for immediate subscribers. */
  immediate: (reportId: string): string => `r${reportId}`,
  /** The daily digest of one scheduled run: its wall-clock minute in the digest time zone. */
  daily: (runAt: number, timeZone: string): string => `d${minuteStamp(runAt, timeZone)}`,
};

/** The half-open span of publish times a daily digest covers: (from, to]. */
export interface DigestWindow {
  readonly from: number;
  readonly to: number;
}

/** A first daily digest covers the day before it, so a new subscriber's first email is not empty. */
export const FIRST_DIGEST_LOOKBACK_MS = 24 * 3600 * 1000;
/**
 * However long ago the last digest was (the service was down, the subscriber bounced and came back),
 * a digest covers at most a week: older reports are on the board.
 */
export const MAX_DIGEST_LOOKBACK_MS = 7 * 24 * 3600 * 1000;

/**
 * The reports a subscriber's daily digest at `runAt` covers: those published since their previous
 * digest (`coveredUntil`), or the day before when there was none. Windows of one subscriber meet
 * end to end, so every report is in exactly one of their digests.
 */
export function dailyWindow(coveredUntil: number | null, runAt: number): DigestWindow {
  const floor = runAt - MAX_DIGEST_LOOKBACK_MS;
  const from = coveredUntil === null ? runAt - FIRST_DIGEST_LOOKBACK_MS : Math.max(coveredUntil, floor);
  return { from: Math.min(from, runAt), to: runAt };
}

/** Which of the published reports fall in a window: published after `from`, at or before `to`. */
export function reportsInWindow(
  published: readonly { readonly reportId: string; readonly at: number }[],
  window: DigestWindow,
): string[] {
  return published.filter((p) => p.at > window.from && p.at <= window.to).map((p) => p.reportId);
}

/**
 * Gmail clips a message whose HTML is larger than about 102 KB and hides the rest behind "[Message
 * clipped]" — with the unsubscribe link. We stay well below it: the budget leaves room for the
 * per-subscriber links and for what a client adds around the HTML.
 */
export const GMAIL_CLIP_BYTES = 102 * 1024;
export const HTML_BUDGET_BYTES = 92 * 1024;

/** How many of a digest's reports are shown in full (the rest are linked) and the HTML that gives. */
export interface Fitted {
  readonly fullCount: number;
  readonly html: string;
  readonly bytes: number;
}

/**
 * The largest number of reports shown in full, the others as links, that keeps the HTML within
 * `budgetBytes` (UTF-8). `render(n)` renders the digest with the first `n` reports in full; its
 * size grows with `n`, so a binary search needs log2(count) renders. With not even the links
 * fitting, `render(0)` is returned anyway: the template caps the list of links on its own.
 */
export function fitToBudget(
  count: number,
  render: (fullCount: number) => string,
  budgetBytes: number,
): Fitted {
  const all = render(count);
  const allBytes = Buffer.byteLength(all);
  if (allBytes <= budgetBytes) return { fullCount: count, html: all, bytes: allBytes };
  let lo = 0;
  let hi = count - 1;
  let best: Fitted | null = null;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const html = render(mid);
    const bytes = Buffer.byteLength(html);
    if (bytes <= budgetBytes) {
      best = { fullCount: mid, html, bytes };
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best !== null) return best;
  const html = render(0);
  return { fullCount: 0, html, bytes: Buffer.byteLength(html) };
}
