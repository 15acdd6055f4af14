import type { Paragraph, Report } from '../parse/report.js';
import type { Summary } from '../summarize/summary.js';
import { easternDate, findIswProduct, ISW_TIME_ZONE } from './isw-products.js';
import { postKey, type Post, type ResolvedLink } from './post.js';
import { assertSafePostHtml, assertSafePostText } from './safety.js';
import type { PostTemplates } from './templates.js';
import { cleanPublicUrl, scrubText } from './tracking.js';

/**
 * The headings of every post, in this order, each exactly once (GLOSSARY.md, "Headings of a post").
 * They are written in `templates/post-body.hbs` and `post-text.hbs`; this list is what tests and
 * other stages check them against.
 */
export const POST_HEADINGS = [
  '[요약]',
  '주요 요점',
  '분류',
  '관련 주요 국가',
  '향후 전망',
  '[원문]',
] as const;

/** The title prefix of ISW reports; generic reports use their source's short name. */
export const ISW_TITLE_PREFIX = 'ISW';

/** Shown under a heading that has nothing to list, so the heading is never left dangling. */
const NONE_KO = '없음';

export interface RenderPostInput {
  readonly reportId: string;
  readonly report: Report;
  readonly summary: Summary;
  /** The report's links after resolution (see `LinkResolver`); tracking URLs never get this far. */
  readonly links: readonly ResolvedLink[];
  /**
   * For `generic` (non-ISW) reports: the short name configured for the sender (GENERIC_SOURCE_NAMES),
   * put in brackets before the title instead of `[ISW]`. Default: the sender's display name.
   */
  readonly sourceShortName?: string;
}

/** What `post-body.hbs` and `post-text.hbs` see. Every field is always present (strict templates). */
export interface PostBodyView {
  readonly summary: {
    readonly takeaways: readonly string[];
    readonly categories: string;
    readonly countries: string;
    /** Countries the summary says something about, shown under the list of names. */
    readonly countryNotes: readonly { readonly name: string; readonly note: string }[];
    readonly outlook: readonly string[];
  };
  readonly original: {
    readonly title: string;
    /** The product or newsletter name when the title does not already say it; else null. */
    readonly product: string | null;
    readonly authors: string | null;
    readonly date: string;
    readonly preface: readonly string[];
    readonly links: readonly { readonly text: string; readonly url: string }[];
    readonly paragraphs: readonly ParagraphView[];
    readonly takeaways: readonly string[];
    readonly fullReport: { readonly text: string; readonly url: string } | null;
  };
  readonly none: string;
}

/** A body paragraph for the templates: exactly one of `text` and `list` is set. */
export interface ParagraphView {
  readonly text: string | null;
  readonly list: ListView | null;
}

/** A list of the body, with the lists nested in it (rendered by the recursive `list` partial). */
export interface ListView {
  readonly ordered: boolean;
  /** Two spaces per nesting level, for the plain-text rendering. */
  readonly indent: string;
  readonly items: readonly ListItemView[];
}

export interface ListItemView {
  readonly text: string;
  readonly list: ListView | null;
}

/** What `post-title.hbs` sees. */
export interface PostTitleView {
  /** Without brackets: `ISW`, or a generic source's short name. */
  readonly prefix: string;
  /** `러시아의 공세 캠페인 평가, 2025년 3월 2일`. */
  readonly headline: string;
}

/**
 * Render a report and its Korean summary into a {@link Post}: title, HTML body and plain text.
 * Pure (no I/O): the same input always gives the same post, byte for byte.
 *
 * Every string from the email or the model goes through Handlebars' escaping, and has email
 * addresses and tracking URLs scrubbed; the result must pass {@link assertSafePostHtml}.
 *
 * @throws PublishError `UNSAFE_CONTENT` if the result is unsafe despite that (a template bug),
 *   `TEMPLATE_INVALID` if a template refers to a field the view does not have.
 */
export function renderPost(input: RenderPostInput, templates: PostTemplates): Post {
  const { report, summary } = input;
  const title = oneLine(templates.title(titleView(input)));
  const view = bodyView(input);
  const html = tidy(templates.body(view));
  const text = tidy(templates.text(view));
  assertSafePostHtml(html);
  assertSafePostText(text, 'text');
  assertSafePostText(title, 'title');
  return {
    key: postKey(input.reportId),
    reportId: input.reportId,
    title,
    html,
    text,
    sourceUrl: view.original.fullReport?.url ?? null,
    tags: unique(
      [...summary.categories, ...summary.countries.map((c) => c.name_ko)].map((tag) =>
        oneLine(scrubText(tag)),
      ),
    ),
    publishedAt: report.publishedAt,
  };
}

/**
 * The title's parts. For a known ISW product the headline is built from the glossary's Korean
 * name and the report's Eastern date, so the title has one form every day whatever the model
 * wrote (the hand-made posts had both "러시아의 공세 캠페인 평가" and "러시아 공세 캠페인 평가");
 * otherwise it is the summary's `title_ko`.
 */
export function titleView(input: RenderPostInput): PostTitleView {
  const { report, summary } = input;
  if (report.source === 'isw') {
    const product = findIswProduct(report.product);
    const date = easternDate(report.publishedAt);
    const headline =
      product !== null && date !== null
        ? `${product.nameKo}, ${date.year}년 ${date.month}월 ${date.day}일`
        : cleanModelText(summary.title_ko);
    return { prefix: ISW_TITLE_PREFIX, headline: oneLine(scrubText(headline)) };
  }
  const prefix = [input.sourceShortName, report.from.name, report.product ?? '']
    .map((name) => oneLine(scrubText(name ?? '')).replace(/[[\]]/g, ''))
    .find((name) => name !== '');
  return { prefix: prefix ?? 'Newsletter', headline: oneLine(scrubText(cleanModelText(summary.title_ko))) };
}

/** The label of the full-report link in a post: the email's "Click Here to …" button is chrome. */
export const FULL_REPORT_LABEL = '전체 보고서 읽기 (영문)';

/**
 * A link's line without the email's "Click here to" call-to-action chrome:
 * "Click here to view our Russia-Ukraine interactive maps." → "View our Russia-Ukraine interactive maps."
 */
export function linkLabel(text: string): string {
  const rest = text.replace(/^click\s+here\s*(?:to\s+|for\s+)?/i, '').trim();
  if (rest === '') return text;
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/** The view of the body templates (exported for tests and for other renderings of a post). */
export function bodyView(input: RenderPostInput): PostBodyView {
  const { report, summary } = input;
  const clean = (s: string): string => scrubText(s.replace(/\u00a0/g, ' ')).trim();
  const links = input.links.flatMap((link) => {
    const url = cleanPublicUrl(link.url);
    return url === null ? [] : [{ kind: link.kind, text: linkLabel(clean(link.text)), url }];
  });
  const full = links.find((l) => l.kind === 'full-report');
  const countryNames = summary.countries.map((c) => oneLine(clean(c.name_ko)));
  const title = oneLine(clean(report.title));
  const product = report.product === null ? null : oneLine(clean(report.product));
  return {
    summary: {
      takeaways: summary.key_takeaways_ko.map((t) => oneLine(clean(cleanModelText(t)))).filter(nonEmpty),
      categories: joinOrNone(summary.categories.map((c) => oneLine(clean(c)))),
      countries: joinOrNone(countryNames),
      countryNotes: summary.countries.flatMap((c, i) => {
        const note = c.note === null ? '' : oneLine(clean(cleanModelText(c.note)));
        return note === '' ? [] : [{ name: countryNames[i] ?? c.name_ko, note }];
      }),
      outlook: splitParagraphs(clean(cleanModelText(summary.outlook_ko))),
    },
    original: {
      title,
      product: product !== null && product !== '' && !title.includes(product) ? product : null,
      authors: report.authors.length === 0 ? null : report.authors.map((a) => oneLine(clean(a))).join(', '),
      date: dateAsWritten(report),
      preface: report.preface.map(clean).filter(nonEmpty),
      links: links.filter((l) => l.kind !== 'full-report').map(({ text, url }) => ({ text, url })),
      paragraphs: report.paragraphs.flatMap((p) => paragraphView(p, clean)),
      takeaways: report.keyTakeaways.map((t) => oneLine(clean(t))).filter(nonEmpty),
      fullReport: full === undefined ? null : { text: FULL_REPORT_LABEL, url: full.url },
    },
    none: NONE_KO,
  };
}

function paragraphView(p: Paragraph, clean: (s: string) => string): ParagraphView[] {
  if (p.type === 'text') {
    const text = clean(p.text);
    return text === '' ? [] : [{ text, list: null }];
  }
  const kept = p.items.flatMap((item, i) => {
    const text = oneLine(clean(item));
    return text === '' ? [] : [{ text, level: Math.max(0, p.levels?.[i] ?? 0) }];
  });
  return kept.length === 0 ? [] : [{ text: null, list: nestList(kept, p.ordered) }];
}

interface MutableList {
  readonly ordered: boolean;
  readonly indent: string;
  readonly items: { readonly text: string; list: MutableList | null }[];
}

/**
 * Rebuild the tree of a list from its items' nesting levels (the parser's `levels`): an item goes
 * under the nearest earlier item of a lower level. A first item that claims to be nested, or a
 * level that skips one, is put one level under what is there: a list never loses an item.
 */
export function nestList(items: readonly { text: string; level: number }[], ordered: boolean): ListView {
  const root: MutableList = { ordered, indent: '', items: [] };
  const stack: { level: number; list: MutableList }[] = [{ level: 0, list: root }];
  for (const { text, level } of items) {
    while (stack.length > 1 && (stack.at(-1)?.level ?? 0) > level) stack.pop();
    let top = stack.at(-1) ?? { level: 0, list: root };
    const parent = top.list.items.at(-1);
    if (level > top.level && parent !== undefined) {
      parent.list ??= { ordered, indent: `${top.list.indent}  `, items: [] };
      top = { level, list: parent.list };
      stack.push(top);
    }
    top.list.items.push({ text, list: null });
  }
  return root;
}

const utcLongDate = new Intl.DateTimeFormat('en-US', {
  timeZone: 'UTC',
  year: 'numeric',
  month: 'long',
  day: 'numeric',
});
const easternTime = new Intl.DateTimeFormat('en-US', {
  timeZone: ISW_TIME_ZONE,
  hour: 'numeric',
  minute: '2-digit',
  hour12: true,
});

/**
 * The report's date the way ISW writes it: "March 2, 2025, 7:45 pm ET" when the email's body gave
 * a time, else "March 2, 2025". Built from parts rather than `Intl`'s whole string, whose spacing
 * (a narrow no-break space before "PM") changes between ICU versions and would break golden files.
 */
export function dateAsWritten(report: Pick<Report, 'source' | 'publishedAt' | 'publishedAtSource'>): string {
  if (report.source === 'isw') {
    const date = easternDate(report.publishedAt);
    if (date === null) return report.publishedAt;
    const day = `${date.monthName} ${date.day}, ${date.year}`;
    const parts = easternTime.formatToParts(Date.parse(report.publishedAt));
    const part = (type: Intl.DateTimeFormatPartTypes): string =>
      parts.find((p) => p.type === type)?.value ?? '';
    const midnight = part('hour') === '12' && part('minute') === '00' && part('dayPeriod') === 'AM';
    if (report.publishedAtSource !== 'body' || midnight) return day;
    return `${day}, ${part('hour')}:${part('minute')} ${part('dayPeriod').toLowerCase()} ET`;
  }
  // A generic newsletter's own time zone is unknown: its calendar date as the offset in `publishedAt` has it.
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(report.publishedAt);
  if (m === null) return report.publishedAt;
  const utcNoon = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12);
  return utcLongDate
    .formatToParts(utcNoon)
    .map((p) => p.value)
    .join('');
}

/**
 * Model output with chat leftovers removed: code fences ("```html"), markdown heading marks
 * ("### 분류:"), list bullets and bold marks. The summarizer validates its answers, but one post of
 * the hand-made series opened with "```html" and another ran "### …" headings together; the board
 * must never show either.
 */
export function cleanModelText(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((line) => !/^\s*(```|~~~)/.test(line))
    .map((line) =>
      line
        .replace(/^\s*#{1,6}\s+/, '')
        .replace(/^\s*(?:[-*•]|\d+[.)])\s+/, '')
        .replace(/\*\*(.+?)\*\*/g, '$1')
        .replace(/(^|\s)#{2,6}\s+/g, '$1'),
    )
    .join('\n')
    .trim();
}

function splitParagraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(nonEmpty);
}

function joinOrNone(items: readonly string[]): string {
  const kept = unique(items.filter(nonEmpty));
  return kept.length === 0 ? NONE_KO : kept.join(', ');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function nonEmpty(text: string): boolean {
  return text !== '';
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items.filter(nonEmpty))];
}

/** Trailing spaces off, at most one blank line in a row, one final newline. */
function tidy(text: string): string {
  return `${text
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}
