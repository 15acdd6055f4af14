import type { Block } from './blocks.js';

/** The header block a mail client writes above an inline-forwarded message. */
export interface QuotedHeaders {
  readonly from: string | null;
  readonly date: string | null;
  readonly subject: string | null;
}

// Gmail "---------- Forwarded message ---------", Apple Mail "Begin forwarded message:",
// Outlook/Naver "-----Original Message-----", Daum/Naver Korean markers.
const MARKER =
  /^(?:-{2,}\s*(?:forwarded message|original message|원본 메일|전달된 메일)\s*-{2,}|begin forwarded message:?|-{2,}\s*forwarded by\b.*)$/i;
const FIELD =
  /^(from|date|sent|subject|to|cc|reply-to|보낸 ?사람|받는 ?사람|날짜|보낸 ?날짜|제목)\s*:\s*(.*)$/i;

/**
 * Find an inline forward in the blocks: the marker line, then the quoted header lines (in the
 * marker's block, one per `<br>`, or one per following block as Apple Mail writes them); or, as
 * Outlook (desktop and web) writes it, a block of quoted header lines with no marker at all.
 * Returns the quoted headers and the blocks of the original message, or null when the blocks are
 * not a forward.
 */
export function findInlineForward(
  blocks: readonly Block[],
): { headers: QuotedHeaders; rest: Block[] } | null {
  for (let i = 0; i < blocks.length; i += 1) {
    const block = blocks[i];
    if (block === undefined) continue;
    let markerLine = block.lines.findIndex((l) => MARKER.test(l));
    if (markerLine < 0) {
      if (!isBareHeaderBlock(block.lines)) continue;
      markerLine = -1; // the header lines start at the block's first line
    }
    const fields = new Map<string, string>();
    // Reads header lines into `fields`; true when every line was one (the block is all header).
    const take = (lines: readonly string[]): boolean => {
      const parsed = lines.map((line) => FIELD.exec(line));
      if (parsed.length === 0 || parsed.some((m) => m === null)) return false;
      for (const m of parsed) if (m !== null) fields.set(normaliseField(m[1] ?? ''), (m[2] ?? '').trim());
      return true;
    };
    for (const line of block.lines.slice(markerLine + 1)) take([line]);
    let j = i + 1;
    for (; j < blocks.length; j += 1) {
      const b = blocks[j];
      if (b === undefined || b.text === '' || !take(b.lines)) break;
    }
    if (!fields.has('from')) continue;
    return {
      headers: {
        from: fields.get('from') ?? null,
        date: fields.get('date') ?? null,
        subject: fields.get('subject') ?? null,
      },
      rest: blocks.slice(j),
    };
  }
  return null;
}

/**
 * Outlook's forward has no marker line, only a rule and "From: / Sent: / To: / Subject:" lines in
 * one block. Such a block counts as a quoted header only when every line is a header field, the
 * first is From, and a date and a subject are there too: body text does not look like that.
 */
function isBareHeaderBlock(lines: readonly string[]): boolean {
  const names = lines.map((line) => {
    const m = FIELD.exec(line);
    return m === null ? null : normaliseField(m[1] ?? '');
  });
  return (
    names.length >= 3 &&
    names[0] === 'from' &&
    names.every((n) => n !== null) &&
    names.includes('date') &&
    names.includes('subject')
  );
}

function normaliseField(name: string): string {
  const n = name.toLowerCase().replace(/\s+/g, '');
  if (n === 'sent' || n === '날짜' || n === '보낸날짜') return 'date';
  if (n === '보낸사람') return 'from';
  if (n === '받는사람') return 'to';
  if (n === '제목') return 'subject';
  return n;
}

/** Strip reply/forward prefixes a client adds to the subject ("Fwd:", "FW:", "전달:"). */
export function cleanSubject(subject: string): string {
  return subject.replace(/^(?:\s*(?:fwd?|fw|re|aw|wg|tr|전달|답장)\s*(?:\[\d+\])?\s*:\s*)+/i, '').trim();
}
