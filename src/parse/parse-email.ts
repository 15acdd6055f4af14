import { createHash } from 'node:crypto';
import { TIMED_OUT, within } from '../shared/timeout.js';
import { htmlToBlocks, textToBlocks, type Block } from './blocks.js';
import { isoInZone, ISW_TIME_ZONE, parseDateLine, zonedIso } from './dates.js';
import { cleanSubject, findInlineForward } from './forward.js';
import { readLayout, type BodyContent } from './layout.js';
import { ParseError } from './parse-error.js';
import { firstAddress, readMime, type MimeContent } from './read-mime.js';
import type { DateSource, Mailbox, Paragraph, Report } from './report.js';

export interface ParseOptions {
  /** Sender domains (and their subdomains) whose mail is an ISW report. */
  readonly iswDomains: readonly string[];
  readonly maxMessageBytes: number;
  readonly timeoutMs: number;
}

export const DEFAULT_PARSE_OPTIONS: ParseOptions = {
  iswDomains: ['understandingwar.org', 'aei.org', 'criticalthreats.org'],
  maxMessageBytes: 50 * 1024 * 1024,
  timeoutMs: 30_000,
};

// A forwarded email inside a forwarded email inside…: three levels are plenty.
const MAX_DEPTH = 3;

/**
 * Turn the raw RFC 5322 bytes of an email into a typed {@link Report}.
 * Fails only with a {@link ParseError}; never hangs (bounded by `timeoutMs`).
 */
export async function parseEmail(
  raw: Buffer | Uint8Array | string,
  options: ParseOptions = DEFAULT_PARSE_OPTIONS,
): Promise<Report> {
  const bytes = Buffer.isBuffer(raw)
    ? raw
    : typeof raw === 'string'
      ? Buffer.from(raw, 'utf8')
      : Buffer.from(raw);
  if (
    bytes.length === 0 ||
    (bytes.toString('latin1', 0, Math.min(bytes.length, 4096)).trim() === '' && bytes.length <= 4096)
  ) {
    throw new ParseError('EMPTY_MESSAGE', 'the message is empty');
  }
  if (bytes.length > options.maxMessageBytes) {
    throw new ParseError(
      'MESSAGE_TOO_LARGE',
      `the message has ${bytes.length} bytes, more than the limit of ${options.maxMessageBytes}`,
    );
  }
  let result: Report | typeof TIMED_OUT;
  try {
    result = await within(parseAt(bytes, options, 0), options.timeoutMs);
  } catch (err) {
    if (err instanceof ParseError) throw err;
    throw new ParseError(
      'MALFORMED_MIME',
      `the message could not be parsed: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  if (result === TIMED_OUT)
    throw new ParseError('PARSE_TIMEOUT', `parsing took longer than ${options.timeoutMs} ms`);
  return result;
}

async function parseAt(bytes: Buffer, options: ParseOptions, depth: number): Promise<Report> {
  const mime = await readMime(bytes, { maxAttachedMessageBytes: options.maxMessageBytes });
  const outer = envelope(mime);

  // A forward "as attachment": the attached email is the report.
  if (depth < MAX_DEPTH) {
    for (const attached of mime.attachedMessages) {
      const inner = await tryParse(attached, options, depth + 1);
      if (inner !== null) {
        return {
          ...inner,
          forwardedBy: inner.forwardedBy ?? outer.from,
          receivedAt: outer.receivedAt ?? inner.receivedAt,
        };
      }
    }
  }

  let blocks: Block[];
  if (mime.html !== null) blocks = htmlToBlocks(mime.html);
  else if (mime.text !== null) blocks = textToBlocks(mime.text);
  else throw new ParseError('NO_TEXT', 'the message has neither an HTML nor a text part');

  // A forward inline: the quoted header block tells who sent the original.
  let from = outer.from;
  let subject = outer.subject;
  let headerDate = outer.date;
  let forwardedBy: Mailbox | null = null;
  const forward = findInlineForward(blocks);
  if (forward !== null) {
    forwardedBy = outer.from;
    from = parseMailbox(forward.headers.from) ?? outer.from;
    subject = forward.headers.subject ?? cleanSubject(outer.subject);
    headerDate = parseQuotedDate(forward.headers.date, zoneOffset(mime.rawDate)) ?? outer.date;
    blocks = forward.rest;
  }
  if (!blocks.some((b) => b.text.length > 0)) {
    throw new ParseError('NO_TEXT', 'the message has no readable text');
  }

  const source = isSender(from.address, options.iswDomains) ? 'isw' : 'generic';
  const title = cleanSubject(subject);
  const knownProduct = productFromSubject(title);
  const body = readLayout(blocks, { knownProduct });
  const { paragraphs, keyTakeaways } = source === 'isw' ? body : foldTakeaways(body);
  if (paragraphs.length === 0 && keyTakeaways.length === 0) {
    throw new ParseError('NO_TEXT', 'the message has no body text once the newsletter chrome is removed');
  }
  const published = publishedAt(body, headerDate, outer.receivedAt);
  const product = source === 'isw' ? (body.product ?? knownProduct) : (body.product ?? (from.name || null));
  const report: Omit<Report, 'fingerprint'> = {
    source,
    product,
    title: title.length > 0 ? title : (product ?? 'Untitled'),
    publishedAt: published.iso,
    publishedAtSource: published.source,
    authors: body.authors,
    preface: body.preface,
    paragraphs,
    keyTakeaways,
    links: body.links,
    messageId: forward === null ? outer.messageId : null,
    from,
    subject: title,
    receivedAt: outer.receivedAt,
    forwardedBy,
    warnings: [...mime.warnings, ...layoutWarnings(source, body, published.source)],
  };
  return { ...report, fingerprint: fingerprint(report) };
}

/**
 * What an ISW report usually has and this one lacks: not fatal (the report is still summarised and
 * posted), but an admin should look — Constant Contact may have changed the layout.
 */
function layoutWarnings(
  source: Report['source'],
  body: Pick<Report, 'keyTakeaways' | 'authors' | 'links'>,
  dateSource: DateSource,
): string[] {
  if (source !== 'isw') return [];
  const out: string[] = [];
  if (body.keyTakeaways.length === 0)
    out.push('no "Key Takeaways" list was found: the summary has no takeaways to translate');
  if (!body.links.some((l) => l.kind === 'full-report'))
    out.push("no link to the full report was found: the post links ISW's page for the product and date");
  if (body.authors.length === 0) out.push('no byline was found: the post names no authors');
  if (dateSource === 'header')
    out.push("no date line was found in the body: the report's date is the email's Date header");
  return out;
}

async function tryParse(bytes: Buffer, options: ParseOptions, depth: number): Promise<Report | null> {
  try {
    return await parseAt(bytes, options, depth);
  } catch (err) {
    if (err instanceof ParseError) return null; // not a usable attached email: fall back to the outer body
    throw err;
  }
}

interface Envelope {
  readonly from: Mailbox;
  readonly subject: string;
  readonly messageId: string | null;
  readonly date: Date | null;
  readonly receivedAt: string | null;
}

function envelope(mime: MimeContent): Envelope {
  const h = mime.headers;
  const fromHeader = h.get('from');
  const from = firstAddress(fromHeader as Parameters<typeof firstAddress>[0]) ?? { name: '', address: '' };
  const subject = typeof h.get('subject') === 'string' ? (h.get('subject') as string) : '';
  const rawId = h.get('message-id');
  const messageId = typeof rawId === 'string' && rawId.trim() !== '' ? rawId.trim() : null;
  const dateValue = h.get('date');
  const date = dateValue instanceof Date && !Number.isNaN(dateValue.getTime()) ? dateValue : null;
  return {
    from,
    subject,
    messageId,
    date,
    receivedAt: receivedAt(h.get('received')) ?? date?.toISOString() ?? null,
  };
}

/** The time in the topmost Received header (RFC 5321 §4.4: the date follows the last ";"). */
function receivedAt(value: unknown): string | null {
  const top: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof top !== 'string') return null;
  const when = top.slice(top.lastIndexOf(';') + 1).trim();
  const t = Date.parse(when.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function isSender(address: string, domains: readonly string[]): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return domains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`));
}

/** "Iran Update, May 14, 2025" → "Iran Update": the subject minus a trailing date. */
function productFromSubject(subject: string): string | null {
  const m = /^(.*?)[,:–—-]\s*([A-Z][a-z]+\.? \d{1,2}, \d{4})$/.exec(subject);
  if (m === null || parseDateLine(m[2] ?? '') === null) return null;
  const product = (m[1] ?? '').trim();
  return product.length > 0 ? product : null;
}

/** Non-ISW mail has no takeaways: a "Key Takeaways" list it happens to have stays in the body. */
function foldTakeaways(body: BodyContent): { paragraphs: Paragraph[]; keyTakeaways: string[] } {
  const paragraphs = [...body.paragraphs];
  if (body.keyTakeaways.length > 0) {
    paragraphs.push(
      { type: 'text', text: 'Key Takeaways:' },
      { type: 'list', ordered: false, items: body.keyTakeaways },
    );
  }
  return { paragraphs, keyTakeaways: [] };
}

function publishedAt(
  body: BodyContent,
  headerDate: Date | null,
  received: string | null,
): { iso: string; source: Report['publishedAtSource'] } {
  if (body.date !== null && body.date.hasTime)
    return { iso: zonedIso(body.date.wall, ISW_TIME_ZONE), source: 'body' };
  // To the minute: Gmail and Outlook quote the original's Date to the minute only, and an inline
  // forward must give the same report (and fingerprint) as the email itself. ISW's own dates
  // have minutes only too; a send time's seconds say nothing about the publication.
  if (headerDate !== null) {
    return {
      iso: isoInZone(new Date(Math.floor(headerDate.getTime() / 60_000) * 60_000), ISW_TIME_ZONE),
      source: 'header',
    };
  }
  if (body.date !== null) return { iso: zonedIso(body.date.wall, ISW_TIME_ZONE), source: 'body' };
  const fallback = received === null ? new Date() : new Date(received);
  return { iso: isoInZone(fallback, ISW_TIME_ZONE), source: 'header' };
}

/** "ISW Publications <publications@understandingwar.org>" or a bare address. */
function parseMailbox(value: string | null): Mailbox | null {
  if (value === null) return null;
  const m =
    /^\s*"?([^"<]*?)"?\s*<([^>\s]+@[^>\s]+)>\s*$/.exec(value) ?? /^\s*()([^\s<>]+@[^\s<>]+)\s*$/.exec(value);
  if (m === null) return null;
  return { name: (m[1] ?? '').trim(), address: (m[2] ?? '').toLowerCase() };
}

/**
 * The numeric zone of an RFC 5322 date ("… 14:14:09 +0900" → "+0900"); null without one, or for
 * "-0000", which RFC 5322 §3.3 defines as "no information about the local time zone".
 */
function zoneOffset(rawDate: string | null): string | null {
  const m = /\s([+-]\d{4})(?:\s*\([^)]*\))?\s*$/.exec(rawDate ?? '');
  return m === null || m[1] === '-0000' ? null : (m[1] ?? null);
}

/**
 * A quoted "Date:" line: RFC 5322 ("Sun, 2 Mar 2025 22:14:09 -0500"), Gmail ("Sun, Mar 2, 2025
 * at 10:14 PM"), Apple ("March 2, 2025 at 10:14:09 PM EST"), Outlook ("Sunday, March 2, 2025
 * 10:14 PM"). Gmail and Outlook write no zone: the time is on the forwarder's clock, so it is read
 * in the zone of the forward's own Date header (`senderOffset`, e.g. "+0900" for a reader in
 * Seoul), and as US Eastern time, ISW's own, when that is unknown.
 */
function parseQuotedDate(value: string | null, senderOffset: string | null): Date | null {
  if (value === null) return null;
  const cleaned = value
    .replace(/\s+at\s+/i, ' ')
    .replace(/\s*\([^)]*\)\s*$/, '')
    .trim();
  const zoned = /(?:[+-]\d{4}|\b(?:GMT|UTC|UT|Z)\b|\b[ECMP][SD]T\b)/.test(cleaned);
  if (zoned) {
    const t = Date.parse(cleaned);
    return Number.isNaN(t) ? null : new Date(t);
  }
  if (senderOffset !== null) {
    const t = Date.parse(`${cleaned} ${senderOffset}`);
    if (!Number.isNaN(t)) return new Date(t);
  }
  const wallUtc = Date.parse(`${cleaned} UTC`);
  if (Number.isNaN(wallUtc)) return null;
  const w = new Date(wallUtc);
  const iso = zonedIso(
    {
      year: w.getUTCFullYear(),
      month: w.getUTCMonth() + 1,
      day: w.getUTCDate(),
      hour: w.getUTCHours(),
      minute: w.getUTCMinutes(),
      second: w.getUTCSeconds(),
    },
    ISW_TIME_ZONE,
  );
  return new Date(iso);
}

function fingerprint(report: Omit<Report, 'fingerprint'>): string {
  const content = {
    title: report.title.toLowerCase(),
    day: report.publishedAt.slice(0, 10),
    paragraphs: report.paragraphs,
    keyTakeaways: report.keyTakeaways,
  };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}
