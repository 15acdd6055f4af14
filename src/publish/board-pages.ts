import type { Post } from './post.js';
import { assertSafePostHtml } from './safety.js';
import type { PostTemplates } from './templates.js';

/** Readers are in Korea: the board shows times in Seoul time. */
export const READER_TIME_ZONE = 'Asia/Seoul';

const seoul = new Intl.DateTimeFormat('en-US', {
  timeZone: READER_TIME_ZONE,
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

// Every index rebuild formats the date of every post on the board, and formatToParts is slow
// (ICU): the text of a date never changes, so it is kept. Bounded so a board with an unusual
// number of posts cannot grow it without limit (cleared and refilled past the bound).
const KST_TEXT_MAX = 50_000;
const KST_TEXT = new Map<string, string>();

// `localeCompare(b, 'ko')` builds a collator on every call; one collator compares the same way.
const koreanOrder = new Intl.Collator('ko');

/**
 * "2025년 3월 3일 09:45 KST": an instant in Seoul time, assembled from parts so the text does not
 * change with the ICU version. Returns the input unchanged when it is not a date.
 */
export function formatKst(iso: string): string {
  const known = KST_TEXT.get(iso);
  if (known !== undefined) return known;
  const instant = Date.parse(iso);
  if (Number.isNaN(instant)) return iso;
  const parts = seoul.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  const text = `${part('year')}년 ${part('month')}월 ${part('day')}일 ${part('hour')}:${part('minute')} KST`;
  if (KST_TEXT.size >= KST_TEXT_MAX) KST_TEXT.clear();
  KST_TEXT.set(iso, text);
  return text;
}

/** What `board-page.hbs` sees. */
export interface BoardPageView {
  readonly title: string;
  readonly html: string;
  readonly publishedAtIso: string;
  readonly publishedAtKst: string;
  readonly tags: readonly string[];
  readonly indexHref: string;
}

/**
 * A post as a standalone HTML page (UTF-8, styled in the page, never in the post). The post's HTML
 * is checked again here because the page inserts it unescaped.
 *
 * @param indexHref link back to the list of posts, relative to the page
 */
export function renderBoardPage(post: Post, templates: PostTemplates, indexHref = '../index.html'): string {
  assertSafePostHtml(post.html);
  const view: BoardPageView = {
    title: post.title,
    html: post.html,
    publishedAtIso: post.publishedAt,
    publishedAtKst: formatKst(post.publishedAt),
    tags: post.tags,
    indexHref,
  };
  return templates.page(view);
}

/** One line of the board's index. */
export interface BoardIndexEntry {
  readonly href: string;
  readonly title: string;
  readonly publishedAt: string;
  readonly tags: readonly string[];
}

/** What `board-index.hbs` sees. */
export interface BoardIndexView {
  readonly boardTitle: string;
  readonly count: number;
  readonly posts: readonly {
    readonly href: string;
    readonly title: string;
    readonly publishedAtIso: string;
    readonly publishedAtKst: string;
    readonly tags: string;
  }[];
}

/**
 * The board's index page, newest first by `publishedAt` (the instant, not the string: offsets differ
 * between sources), ties broken by title so the order is stable.
 */
export function renderBoardIndex(
  entries: readonly BoardIndexEntry[],
  templates: PostTemplates,
  boardTitle = 'isw-ko 게시판',
): string {
  // Each instant parsed once, not once per comparison.
  const sorted = entries
    .map((entry) => ({ entry, at: instant(entry.publishedAt) }))
    .sort((a, b) => b.at - a.at || koreanOrder.compare(a.entry.title, b.entry.title))
    .map(({ entry }) => entry);
  const view: BoardIndexView = {
    boardTitle,
    count: sorted.length,
    posts: sorted.map((e) => ({
      href: e.href,
      title: e.title,
      publishedAtIso: e.publishedAt,
      publishedAtKst: formatKst(e.publishedAt),
      tags: e.tags.join(', '),
    })),
  };
  return templates.index(view);
}

function instant(iso: string): number {
  const t = Date.parse(iso);
  // Undated records sort last rather than breaking the comparison (NaN) for every other post.
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}
