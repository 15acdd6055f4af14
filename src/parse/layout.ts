import { parseAuthors } from './authors.js';
import type { Block } from './blocks.js';
import { FULL_REPORT, isCallToAction, isFooterStart, isHeaderChrome } from './chrome.js';
import { parseDateLine, type WallTime } from './dates.js';
import type { Paragraph, ReportLink, ReportLinkKind } from './report.js';

/** What the body of an email says, before headers and dates are joined in. */
export interface BodyContent {
  readonly product: string | null;
  readonly authors: readonly string[];
  readonly date: { wall: WallTime; hasTime: boolean } | null;
  readonly preface: readonly string[];
  readonly paragraphs: readonly Paragraph[];
  readonly keyTakeaways: readonly string[];
  readonly links: readonly ReportLink[];
}

const KEY_TAKEAWAYS = /^key takeaways\s*:?$/i;
const CUTOFF = /^(?:information|data) cut-?off\b/i;
const HEADING_TAGS = new Set(['h1', 'h2', 'h3']);

/**
 * Read the blocks of an ISW email (or any newsletter) in order:
 * the product heading; a header area (byline, date line, "Click here" lines, standing preface)
 * that ends at the first divider; the body (paragraphs, lists, the "Key Takeaways:" list, the
 * call to action); and the footer, which is dropped from its first line on.
 */
export function readLayout(all: readonly Block[], options: { knownProduct: string | null }): BodyContent {
  const blocks = all.slice(0, footerStart(all));
  const links: ReportLink[] = [];
  const preface: string[] = [];
  const paragraphs: Paragraph[] = [];
  let keyTakeaways: string[] = [];
  let product: string | null = null;
  let authors: string[] = [];
  let date: BodyContent['date'] = null;

  // 1. The product heading: the first heading (or the known product on a line of its own).
  let i = 0;
  for (let j = 0; j < blocks.length; j += 1) {
    const b = blocks[j];
    if (b === undefined) continue;
    const isKnown =
      options.knownProduct !== null && b.text.toLowerCase() === options.knownProduct.toLowerCase();
    if (HEADING_TAGS.has(b.tag) || isKnown) {
      product = b.text;
      i = j + 1;
      break;
    }
    if (b.text.length > 200) break; // the body has started: no heading
  }

  // 2. The header area, up to the first divider. Without a divider, it ends at the first block
  //    that is none of the header's kinds.
  let inHeader = true;
  const headerEnd = dividerAfter(blocks, i);
  for (; i < blocks.length && inHeader; i += 1) {
    const b = blocks[i];
    if (b === undefined) break;
    if (b.separator) {
      i += 1;
      break;
    }
    if (isHeaderChrome(b)) continue;
    if (isCallToAction(b)) {
      links.push(toLink(b));
      continue;
    }
    const d: BodyContent['date'] = date === null ? parseDateLine(b.text) : null;
    if (d !== null) {
      date = d;
      continue;
    }
    if (authors.length === 0 && date === null && preface.length === 0) {
      const names = parseAuthors(b.text);
      if (names !== null) {
        authors = names;
        continue;
      }
    }
    if (CUTOFF.test(b.text) || (headerEnd >= 0 && b.list === null)) {
      preface.push(b.text);
      continue;
    }
    inHeader = false;
    i -= 1; // not a header block: read it again as body
  }

  // 3. The body.
  let expectTakeaways = false;
  let takeawayList: number | null = null;
  // A list with the lists nested in it: one paragraph, its items in document order with their levels.
  let openList: {
    rootId: number;
    baseDepth: number;
    ordered: boolean;
    items: string[];
    levels: number[];
  } | null = null;
  const closeList = (): void => {
    if (openList !== null && openList.items.length > 0) {
      const { ordered, items, levels } = openList;
      paragraphs.push(
        levels.some((l) => l > 0)
          ? { type: 'list', ordered, items, levels }
          : { type: 'list', ordered, items },
      );
    }
    openList = null;
  };
  for (; i < blocks.length; i += 1) {
    const b = blocks[i];
    if (b === undefined || b.separator || isHeaderChrome(b)) continue;
    if (KEY_TAKEAWAYS.test(b.text)) {
      closeList();
      expectTakeaways = true;
      takeawayList = null;
      continue;
    }
    if (b.list !== null) {
      if (expectTakeaways && (takeawayList === null || takeawayList === b.list.id)) {
        takeawayList = b.list.id;
        keyTakeaways.push(b.text);
        continue;
      }
      if (takeawayList !== null && b.list.depth > 0 && keyTakeaways.length > 0) {
        // A sub-list under a takeaway belongs to that takeaway.
        keyTakeaways = [
          ...keyTakeaways.slice(0, -1),
          `${keyTakeaways[keyTakeaways.length - 1] ?? ''} ${b.text}`,
        ];
        continue;
      }
      // A nested list continues the list it is in (blocks of one list tree come one after the
      // other); a new top-level list starts a new paragraph.
      const continues =
        openList !== null && (b.list.id === openList.rootId || b.list.depth > openList.baseDepth);
      if (openList === null || !continues) {
        closeList();
        openList = {
          rootId: b.list.id,
          baseDepth: b.list.depth,
          ordered: b.list.ordered,
          items: [],
          levels: [],
        };
      }
      openList.items.push(b.text);
      openList.levels.push(b.list.depth - openList.baseDepth);
      continue;
    }
    closeList();
    if (expectTakeaways && takeawayList !== null) expectTakeaways = false;
    if (isCallToAction(b)) {
      links.push(toLink(b));
      continue;
    }
    if (date === null && paragraphs.length === 0) {
      const d = parseDateLine(b.text);
      if (d !== null) {
        date = d;
        continue;
      }
    }
    if (expectTakeaways && takeawayList === null && keyTakeaways.length < 30 && b.text.length < 1000) {
      // "Key Takeaways:" followed by paragraphs instead of a list (some forwards flatten lists).
      keyTakeaways.push(b.text);
      continue;
    }
    paragraphs.push({ type: 'text', text: b.text });
  }
  closeList();
  return { product, authors, date, preface, paragraphs, keyTakeaways, links };
}

/** The first divider after `from` that comes before the "Key Takeaways:" line; -1 if none. */
function dividerAfter(blocks: readonly Block[], from: number): number {
  for (let j = from; j < blocks.length; j += 1) {
    const b = blocks[j];
    if (b === undefined || KEY_TAKEAWAYS.test(b.text)) return -1;
    if (b.separator) return j;
  }
  return -1;
}

/** Index of the first footer block after the content has started (the whole length if none). */
function footerStart(blocks: readonly Block[]): number {
  let seenContent = false;
  for (let j = 0; j < blocks.length; j += 1) {
    const b = blocks[j];
    if (b === undefined) continue;
    if (seenContent && isFooterStart(b)) return j;
    if (b.text.length > 80 && !isCallToAction(b)) seenContent = true;
  }
  return blocks.length;
}

function toLink(b: Block): ReportLink {
  const link = b.links.find((l) => l.href.length > 0) ?? { href: '', text: '' };
  // A plain-text email writes the URL in the line ("Click here … <https://…>"): it is the link's
  // url, not part of its text.
  const text = b.text.replace(/\s*<?https?:\/\/[^\s<>"]+>?/g, '').trim();
  return { kind: linkKind(text), text: text.length > 0 ? text : b.text, url: link.href };
}

function linkKind(text: string): ReportLinkKind {
  if (FULL_REPORT.test(text)) return 'full-report';
  if (/\bmaps?\b/i.test(text)) return 'interactive-map';
  return 'related';
}
