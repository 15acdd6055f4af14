import juice from 'juice';
import {
  digestSubject,
  fitToBudget,
  HTML_BUDGET_BYTES,
  koreanDateWithWeekday,
  orderEntries,
  type DeliveryMode,
  type DigestEntry,
} from './digest.js';
import type { NotifyTemplates } from './templates.js';

/**
 * Digest and confirmation emails: handlebars for the content, juice (a real CSS inliner) for the
 * styles, a plain-text part from its own template. A digest is rendered once for every subscriber
 * who gets the same reports; what differs per subscriber (the unsubscribe link) is a placeholder
 * that {@link personaliseDigest} replaces, so 10,000 subscribers cost one render, not 10,000.
 */

/** Stands for the subscriber's unsubscribe URL until {@link personaliseDigest}. */
export const UNSUBSCRIBE_URL_PLACEHOLDER = 'https://unsubscribe.isw-ko.invalid/placeholder';

/** At most this many titles are listed under "이 밖의 보고서"; the rest are counted. */
export const MAX_LINKED_ENTRIES = 100;

const MODE_LABELS: Record<DeliveryMode, string> = {
  immediate: '보고서별 즉시 알림',
  daily: '매일 아침 요약',
};

/** One report in full, as digest-html.hbs and digest-text.hbs see it. */
export interface DigestEntryView {
  readonly title: string;
  readonly date: string;
  /** "외교·협상 · 전황", or empty. */
  readonly categories: string;
  readonly takeaways: readonly string[];
  /** "러시아 · 우크라이나", or empty. */
  readonly countries: string;
  readonly countryNotes: readonly { readonly name: string; readonly note: string }[];
  readonly outlook: string;
  readonly postUrl: string | null;
  readonly fullReportUrl: string | null;
}

/** What the digest templates see. Every field is always present (strict templates). */
export interface DigestView {
  readonly subject: string;
  /** Preview text shown by mail clients after the subject. */
  readonly preheader: string;
  readonly dateLine: string;
  readonly intro: string;
  readonly modeLabel: string;
  readonly entries: readonly DigestEntryView[];
  readonly more: {
    readonly count: number;
    readonly items: readonly { readonly title: string; readonly href: string | null }[];
    readonly hiddenCount: number;
  } | null;
  readonly unsubscribeUrl: string;
}

export interface DigestRenderInput {
  /** The reports, in any order (shown newest first). At least one. */
  readonly entries: readonly DigestEntry[];
  readonly mode: DeliveryMode;
  /** When the digest goes out (ms): its date line. */
  readonly sentAt: number;
  /** Time zone of the date line (DIGEST_TIME_ZONE). */
  readonly timeZone: string;
  /** HTML size budget in bytes; default {@link HTML_BUDGET_BYTES}. */
  readonly budgetBytes?: number;
}

/** A digest rendered for everyone who gets these reports, before personalisation. */
export interface RenderedDigest {
  readonly subject: string;
  /** Inlined HTML, with {@link UNSUBSCRIBE_URL_PLACEHOLDER}. */
  readonly html: string;
  /** Plain text, with {@link UNSUBSCRIBE_URL_PLACEHOLDER}. */
  readonly text: string;
  /** Reports shown in full; the rest are linked. */
  readonly fullCount: number;
  readonly totalCount: number;
  /** UTF-8 size of `html`. */
  readonly htmlBytes: number;
}

const joinDot = (items: readonly string[]): string => items.join(' · ');

function entryView(e: DigestEntry): DigestEntryView {
  return {
    title: e.title,
    date: e.date,
    categories: joinDot(e.categories),
    takeaways: e.takeaways,
    countries: joinDot(e.countries.map((c) => c.name)),
    countryNotes: e.countries.flatMap((c) =>
      c.note === null || c.note.trim() === '' ? [] : [{ name: c.name, note: c.note }],
    ),
    outlook: e.outlook,
    postUrl: e.postUrl,
    fullReportUrl: e.fullReportUrl,
  };
}

/** The view of a digest with its first `fullCount` reports in full and the rest linked. */
export function digestView(
  input: DigestRenderInput,
  ordered: readonly DigestEntry[],
  fullCount: number,
): DigestView {
  const subject = digestSubject(ordered);
  const rest = ordered.slice(fullCount);
  const listed = rest.slice(0, MAX_LINKED_ENTRIES);
  const total = ordered.length;
  const intro =
    input.mode === 'immediate' && total === 1
      ? '새 보고서가 게시되었습니다.'
      : `지난 브리핑 이후 게시된 보고서 ${total}건을 요약해 드립니다.`;
  return {
    subject,
    preheader: ordered[0]?.takeaways[0] ?? '',
    dateLine: koreanDateWithWeekday(input.sentAt, input.timeZone),
    intro,
    modeLabel: MODE_LABELS[input.mode],
    entries: ordered.slice(0, fullCount).map(entryView),
    more:
      rest.length === 0
        ? null
        : {
            count: rest.length,
            items: listed.map((e) => ({ title: e.title, href: e.postUrl ?? e.fullReportUrl })),
            hiddenCount: rest.length - listed.length,
          },
    unsubscribeUrl: UNSUBSCRIBE_URL_PLACEHOLDER,
  };
}

/**
 * Inline the `<style>` rules into `style` attributes (what Gmail, Outlook and Naver mail need),
 * keeping media queries in `<style>` for the clients that read them. Also copies widths and
 * alignment onto table attributes, which Outlook's Word renderer prefers to CSS.
 */
export function inlineCss(html: string): string {
  return juice(html, {
    preserveMediaQueries: true,
    applyWidthAttributes: true,
    applyAttributesTableElements: true,
    removeStyleTags: true,
    preserveImportant: true,
  });
}

/**
 * Render a digest: subject, inlined HTML within the size budget (the first reports in full, the rest
 * as links; see {@link fitToBudget}), and the plain-text part with the same split.
 */
export function renderDigest(templates: NotifyTemplates, input: DigestRenderInput): RenderedDigest {
  const ordered = orderEntries(input.entries);
  const budget = input.budgetBytes ?? HTML_BUDGET_BYTES;
  const fitted = fitToBudget(
    ordered.length,
    (n) => inlineCss(templates.digestHtml(digestView(input, ordered, n))),
    budget,
  );
  const view = digestView(input, ordered, fitted.fullCount);
  const html = isolatePlaceholder(fitted.html);
  return {
    subject: view.subject,
    html,
    text: normaliseText(templates.digestText(view)),
    fullCount: fitted.fullCount,
    totalCount: ordered.length,
    htmlBytes: Buffer.byteLength(html),
  };
}

/**
 * Put the unsubscribe link's attribute on a line of its own (`<a\nhref="…"\nstyle=…>`: line breaks
 * between attributes are plain whitespace in HTML), so that the encoded body can be prepared once
 * and only that line encoded per subscriber (see encoded-body.ts).
 */
function isolatePlaceholder(html: string): string {
  const attribute = `href="${UNSUBSCRIBE_URL_PLACEHOLDER}"`;
  const at = html.indexOf(attribute);
  if (at < 0) return html;
  const before = html.slice(0, at).replace(/[ \t]+$/, '');
  const after = html.slice(at + attribute.length).replace(/^[ \t]+/, '');
  return `${before}\n${attribute}\n${after}`;
}

/** The per-subscriber links of one email. */
export interface PersonalLinks {
  /** The visible unsubscribe link: GET shows a page with a button (scanners fetch GET links). */
  readonly unsubscribeUrl: string;
}

/** A URL as the value of a double-quoted HTML attribute. */
export const escapeAttribute = (url: string): string =>
  url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One subscriber's copy of a rendered digest. */
export function personaliseDigest(
  rendered: RenderedDigest,
  links: PersonalLinks,
): { html: string; text: string } {
  return {
    html: rendered.html.split(UNSUBSCRIBE_URL_PLACEHOLDER).join(escapeAttribute(links.unsubscribeUrl)),
    text: rendered.text.split(UNSUBSCRIBE_URL_PLACEHOLDER).join(links.unsubscribeUrl),
  };
}

/** What confirm-html.hbs and confirm-text.hbs see. */
export interface ConfirmView {
  readonly subject: string;
  readonly confirmUrl: string;
  readonly modeLabel: string;
  readonly validDays: number;
}

export const CONFIRM_SUBJECT = '[ISW 브리핑] 구독 확인을 부탁드립니다';

/** The double opt-in email. */
export function renderConfirmation(
  templates: NotifyTemplates,
  input: { readonly confirmUrl: string; readonly mode: DeliveryMode; readonly validDays: number },
): { subject: string; html: string; text: string } {
  const view: ConfirmView = {
    subject: CONFIRM_SUBJECT,
    confirmUrl: input.confirmUrl,
    modeLabel: MODE_LABELS[input.mode],
    validDays: input.validDays,
  };
  return {
    subject: CONFIRM_SUBJECT,
    html: inlineCss(templates.confirmHtml(view)),
    text: normaliseText(templates.confirmText(view)),
  };
}

/** Plain text: no runs of blank lines left by template conditionals, one final newline. */
function normaliseText(text: string): string {
  return `${text
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}
