import { Parser } from 'htmlparser2';

/** A link inside a block: its own text and its href as given. */
export interface BlockLink {
  readonly text: string;
  readonly href: string;
}

/** Where a list item sits: which list (document-wide id), ordered or not, how deeply nested. */
export interface ListPosition {
  readonly id: number;
  readonly ordered: boolean;
  readonly depth: number;
}

/**
 * One visual block of the email (a paragraph, a heading, a list item, a table cell of text) in
 * document order. `lines` keeps `<br>` breaks (a forwarded header block needs them); `text` is the
 * block on one line with white space (and no-break spaces) folded.
 */
export interface Block {
  readonly tag: string;
  readonly text: string;
  readonly lines: readonly string[];
  readonly links: readonly BlockLink[];
  readonly list: ListPosition | null;
  /** Alt texts of the images in the block. */
  readonly images: readonly string[];
  /** A divider: a block of images with no alt text and no words, or an `<hr>`. */
  readonly separator: boolean;
  readonly bold: boolean;
}

const BLOCK_TAGS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'center',
  'dd',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'ul',
]);
const SKIP_TAGS = new Set([
  'head',
  'style',
  'script',
  'noscript',
  'template',
  'title',
  'meta',
  'link',
  'svg',
  'object',
  'iframe',
]);
const HIDDEN_STYLE =
  /(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden|max-height\s*:\s*0(?:px)?\s*(?:;|$))/i;
const BOLD_STYLE = /font-weight\s*:\s*(?:bold|[6-9]00)/i;

/** Fold white space (no-break spaces included) to single spaces and trim. */
export function fold(text: string): string {
  return text.replace(WHITE_RUN, ' ').trim();
}

// The white-space runs that need rewriting: a space followed by more white space, or a run that
// starts with any other white space (no-break, tab, line break; JS `\s` covers U+00A0 and
// U+FEFF) or a zero-width space. A lone space between words is left alone: matching every one
// of them made `fold` the parser's most expensive line (bench/parse.ts).
const WHITE_RUN = / [\s\u200b-\u200d]+|[^\S ][\s\u200b-\u200d]*|[\u200b-\u200d][\s\u200b-\u200d]*/g;
// Anything that is not white space by `fold`'s definition: a block worth building.
const NOT_WHITE = /[^\s\u200b-\u200d]/;

interface Frame {
  readonly tag: string;
  readonly list: ListPosition | null;
}

interface Pending {
  raw: string;
  links: BlockLink[];
  images: string[];
  hr: boolean;
  boldChars: number;
  /** Whether `raw` has anything but white space (and `<br>` breaks). */
  hasText: boolean;
}

/**
 * Turn an HTML body into blocks, walking the DOM once (htmlparser2 through cheerio; no regexes over
 * HTML). Hidden elements (Constant Contact's preheader and tracking pixel) and non-content elements
 * (style, script) are skipped.
 */
export function htmlToBlocks(html: string): Block[] {
  const blocks: Block[] = [];
  const stack: Frame[] = [{ tag: 'body', list: null }];
  let pending: Pending = empty();
  let listCount = 0;
  let boldDepth = 0;

  const flush = (): void => {
    // Most flushes (between table, tr and td tags of a newsletter layout) have only white space.
    if (!pending.hr && pending.images.length === 0 && !pending.hasText) {
      if (pending.raw.length > 0 || pending.links.length > 0) pending = empty();
      return;
    }
    const frame = stack[stack.length - 1] ?? { tag: 'body', list: null };
    const lines = pending.raw
      .split('\n')
      .map(fold)
      .filter((l) => l.length > 0);
    const text = lines.join(' ');
    const separator =
      pending.hr || (text.length === 0 && pending.images.length > 0 && pending.images.every((a) => a === ''));
    if (text.length > 0 || pending.images.some((a) => a !== '') || separator) {
      blocks.push({
        tag: frame.tag,
        text,
        lines,
        links: pending.links,
        list: frame.tag === 'li' ? frame.list : null,
        images: pending.images,
        separator,
        // `text` is fold(raw): its lines re-joined with single spaces.
        bold: text.length > 0 && pending.boldChars >= text.length * 0.8,
      });
    }
    pending = empty();
  };

  // One pass of htmlparser2's tokenizer with callbacks, no DOM built: the elements still open,
  // each with what its end has to undo. htmlparser2 closes every element it opens (void and
  // implied ends included), so the frames stay balanced.
  interface OpenElement {
    readonly skip: boolean;
    readonly block: boolean;
    readonly bold: boolean;
    readonly link: { readonly start: number; readonly href: string } | null;
  }
  const NOOP: OpenElement = { skip: false, block: false, bold: false, link: null };
  const SKIP: OpenElement = { skip: true, block: false, bold: false, link: null };
  const open: OpenElement[] = [];
  let skipDepth = 0;

  const parser = new Parser(
    {
      onopentag(tag, attribs) {
        if (
          skipDepth > 0 ||
          SKIP_TAGS.has(tag) ||
          'hidden' in attribs ||
          HIDDEN_STYLE.test(attribs.style ?? '')
        ) {
          skipDepth += 1;
          open.push(SKIP);
          return;
        }
        if (tag === 'br') {
          pending.raw += '\n';
          open.push(NOOP);
          return;
        }
        if (tag === 'img') {
          pending.images.push(fold(attribs.alt ?? ''));
          open.push(NOOP);
          return;
        }
        if (tag === 'hr') {
          flush();
          pending.hr = true;
          flush();
          open.push(NOOP);
          return;
        }
        const bold = tag === 'b' || tag === 'strong' || BOLD_STYLE.test(attribs.style ?? '');
        if (bold) boldDepth += 1;
        if (BLOCK_TAGS.has(tag)) {
          flush();
          const parent = stack[stack.length - 1];
          let list = parent?.list ?? null;
          if (tag === 'ul' || tag === 'ol') {
            listCount += 1;
            list = { id: listCount, ordered: tag === 'ol', depth: list === null ? 0 : list.depth + 1 };
          }
          stack.push({ tag, list });
          open.push({ skip: false, block: true, bold, link: null });
        } else if (tag === 'a' && typeof attribs.href === 'string') {
          open.push({
            skip: false,
            block: false,
            bold,
            link: { start: pending.raw.length, href: attribs.href.trim() },
          });
        } else {
          open.push(bold ? { skip: false, block: false, bold, link: null } : NOOP);
        }
      },
      ontext(data) {
        if (skipDepth > 0) return;
        if (!pending.hasText) {
          // White space before a block's first word changes nothing once folded: not kept, so the
          // layout's indentation between table cells is never concatenated and scanned again.
          if (!NOT_WHITE.test(data)) return;
          pending.hasText = true;
        }
        pending.raw += data;
        if (boldDepth > 0) pending.boldChars += fold(data).length;
      },
      onclosetag() {
        const frame = open.pop();
        if (frame === undefined) return;
        if (frame.skip) {
          skipDepth -= 1;
          return;
        }
        if (frame.block) {
          flush();
          stack.pop();
        }
        if (frame.link !== null) {
          pending.links.push({ text: fold(pending.raw.slice(frame.link.start)), href: frame.link.href });
        }
        if (frame.bold) boldDepth -= 1;
      },
    },
    { decodeEntities: true },
  );
  parser.write(withoutHead(html));
  parser.end();
  flush();
  return blocks;
}

// A document that opens with its head: doctype, <html>, <head>.
const LEADING_HEAD = /^\s*(?:<!doctype[^>]*>\s*)?(?:<html[^>]*>\s*)?<head[\s>]/i;
const HEAD_END = /<\/head\s*>/gi;

/**
 * The markup without its leading `<head>…</head>` (Constant Contact's is several KB of CSS): the
 * walk skips the head anyway, and not tokenising it is a measurable part of the parse budget
 * (see bench/parse.ts). Only a head at the very start is cut, so a forward whose own markup has
 * no head keeps everything, quoted header block included, whatever heads the quoted email has.
 */
function withoutHead(html: string): string {
  const start = LEADING_HEAD.exec(html);
  if (start === null) return html;
  HEAD_END.lastIndex = start[0].length;
  const end = HEAD_END.exec(html);
  return end === null ? html : html.slice(end.index + end[0].length);
}

const BULLET = /^\s*(?:[-*•·▪◦]|\d{1,2}[.)])\s+/;

/**
 * Turn a text/plain body into blocks: a blank line ends a paragraph, a bulleted or numbered line
 * is a list item, and consecutive items form one list. Lines that are only "Key Takeaways:" or a
 * short title-like first line are kept as their own blocks.
 */
export function textToBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let listCount = 0;
  let currentList: ListPosition | null = null;
  let para: string[] = [];
  const push = (tag: string, lines: string[], list: ListPosition | null): void => {
    const folded = lines.map(fold).filter((l) => l.length > 0);
    if (folded.length === 0) return;
    blocks.push({
      tag,
      text: folded.join(' '),
      lines: folded,
      links: linksIn(folded.join(' ')),
      list,
      images: [],
      separator: false,
      bold: false,
    });
  };
  const endPara = (): void => {
    push('p', para, null);
    para = [];
  };
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (fold(line) === '') {
      endPara();
      currentList = null;
      continue;
    }
    if (/^\s*(?:-{3,}|_{3,}|={3,})\s*$/.test(line)) {
      endPara();
      blocks.push({
        tag: 'hr',
        text: '',
        lines: [],
        links: [],
        list: null,
        images: [],
        separator: true,
        bold: false,
      });
      continue;
    }
    const bullet = BULLET.exec(line);
    if (bullet !== null) {
      endPara();
      if (currentList === null) {
        listCount += 1;
        currentList = { id: listCount, ordered: /\d/.test(bullet[0]), depth: 0 };
      }
      push('li', [line.slice(bullet[0].length)], currentList);
      continue;
    }
    if (currentList !== null && /^\s{2,}/.test(line) && blocks.length > 0) {
      // An indented continuation of the previous list item.
      const last = blocks.pop();
      if (last !== undefined) push('li', [...last.lines, line], currentList);
      continue;
    }
    currentList = null;
    para.push(line);
    // Lines ending a sentence in a hard-wrapped text stay in the paragraph; a heading-like line
    // ("Key Takeaways:") stands alone.
    if (/:\s*$/.test(line) && para.length === 1) endPara();
  }
  endPara();
  return blocks;
}

// URLs in plain text, as "<https://…>" or bare, for text-only emails.
function linksIn(text: string): BlockLink[] {
  return [...text.matchAll(/<?(https?:\/\/[^\s<>"]+)>?/g)].map((m) => ({ text, href: m[1] ?? '' }));
}

function empty(): Pending {
  return { raw: '', links: [], images: [], hr: false, boldChars: 0, hasText: false };
}
