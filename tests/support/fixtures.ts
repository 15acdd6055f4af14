// Test support: where the shared email fixtures live, and builders for the variants a real inbox
// sees of the same report (HTML-only, forwarded inline by Gmail / Apple Mail / Outlook classic and
// modern, forwarded as an attached message/rfc822).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer';

/** The repository root (this file is tests/support/fixtures.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The shared fixtures sit beside the repository, not inside it: `<repo>/../shared/fixtures/emails`. */
export const FIXTURES_DIR = resolve(REPO_ROOT, '../shared/fixtures/emails');

/**
 * The fixtures directory, checked. Fails loudly (instead of letting a test loop over zero files
 * and pass) when the shared checkout is missing.
 */
export function fixturesDir(): string {
  if (!existsSync(FIXTURES_DIR) || !statSync(FIXTURES_DIR).isDirectory()) {
    throw new Error(
      `The shared email fixtures are missing: expected a directory at ${FIXTURES_DIR} ` +
        '(../shared/fixtures/emails relative to the repository root). Check out the shared ' +
        'fixtures next to the repository; the parser tests cannot run without them.',
    );
  }
  return FIXTURES_DIR;
}

/** The file names of every `.eml` fixture, sorted; throws when there are none. */
export function fixtureNames(): string[] {
  const dir = fixturesDir();
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort();
  if (names.length === 0) throw new Error(`${dir} holds no .eml files: the shared fixtures are incomplete.`);
  return names;
}

/** The raw bytes of one fixture. */
export function readFixture(name: string): Buffer {
  const path = resolve(fixturesDir(), name);
  if (!existsSync(path)) throw new Error(`No fixture named ${name} in ${FIXTURES_DIR}.`);
  return readFileSync(path);
}

// ---------------------------------------------------------------------------------------------
// A small MIME splitter, enough for the fixtures (7-bit, CRLF, multipart/alternative). The
// HTML-only copy and the attachment forward keep the original bytes; inline forwards quote the
// decoded parts and are encoded afresh by MailComposer, as a mail client would.

interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** The whole field as written, folded lines included, without the final line break. */
  readonly raw: string;
}

interface SplitMessage {
  readonly fields: readonly HeaderField[];
  readonly body: string;
  readonly newline: string;
}

function splitMessage(raw: string): SplitMessage {
  const newline = raw.includes('\r\n') ? '\r\n' : '\n';
  const end = raw.indexOf(newline + newline);
  if (end < 0) throw new Error('the message has no blank line between header and body');
  const head = raw.slice(0, end);
  const body = raw.slice(end + newline.length * 2);
  const fields: HeaderField[] = [];
  for (const line of head.split(newline)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last !== undefined) {
      fields[fields.length - 1] = { name: last.name, raw: `${last.raw}${newline}${line}` };
    } else {
      fields.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line });
    }
  }
  return { fields, body, newline };
}

/** A header's unfolded value (the first one of that name), or null. */
function fieldValue(fields: readonly HeaderField[], name: string): string | null {
  const field = fields.find((f) => f.name === name);
  if (field === undefined) return null;
  return field.raw
    .slice(field.raw.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

function boundaryOf(fields: readonly HeaderField[]): string | null {
  const type = fieldValue(fields, 'content-type') ?? '';
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(type);
  return m === null ? null : (m[1] ?? m[2] ?? null);
}

/** The parts of a multipart body (raw, headers included), preamble and epilogue dropped. */
function multipartParts(body: string, boundary: string, newline: string): string[] {
  const delimiter = `${newline}--${boundary}`;
  const chunks = `${newline}${body}`.split(delimiter);
  // chunks[0] is the preamble; the chunk starting "--" is the close delimiter and epilogue.
  return chunks
    .slice(1)
    .filter((chunk) => !chunk.startsWith('--'))
    .map((chunk) => chunk.replace(/^[ \t]*\r?\n/, ''));
}

/** Find the first leaf part with the given content type, searching nested multiparts. */
function findPart(message: SplitMessage, contentType: string): SplitMessage | null {
  const type = (fieldValue(message.fields, 'content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith(contentType)) return message;
  const boundary = boundaryOf(message.fields);
  if (!type.startsWith('multipart/') || boundary === null) return null;
  for (const raw of multipartParts(message.body, boundary, message.newline)) {
    const found = findPart(splitMessage(raw), contentType);
    if (found !== null) return found;
  }
  return null;
}

/** The original's headers, decoded, that a forwarding client quotes. */
export interface OriginalHeaders {
  readonly from: string;
  readonly fromName: string;
  readonly fromAddress: string;
  readonly to: string;
  readonly subject: string;
  readonly date: Date;
}

function originalHeaders(message: SplitMessage): OriginalHeaders {
  const from = fieldValue(message.fields, 'from') ?? '';
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(from);
  const date = new Date(fieldValue(message.fields, 'date')?.replace(/\s*\([^)]*\)\s*$/, '') ?? '');
  if (Number.isNaN(date.getTime())) throw new Error('the original has no readable Date header');
  return {
    from,
    fromName: m?.[1] ?? '',
    fromAddress: m?.[2] ?? from,
    to: fieldValue(message.fields, 'to') ?? '',
    subject: fieldValue(message.fields, 'subject') ?? '',
    date,
  };
}

function decodeQuotedPrintable(text: string): string {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i += 1) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(soft.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A leaf part's content, decoded from its transfer encoding (the fixtures use QP or 7bit). */
function partText(part: SplitMessage): string {
  const encoding = (fieldValue(part.fields, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(part.body);
  if (encoding === 'base64') return Buffer.from(part.body, 'base64').toString('utf8');
  return part.body;
}

/** The decoded parts and quoted headers of an original email, for building forwards. */
export interface OriginalParts {
  readonly headers: OriginalHeaders;
  readonly html: string | null;
  readonly text: string | null;
}

export function originalParts(raw: Buffer): OriginalParts {
  const message = splitMessage(raw.toString('latin1'));
  const html = findPart(message, 'text/html');
  const text = findPart(message, 'text/plain');
  return {
    headers: originalHeaders(message),
    html: html === null ? null : partText(html),
    text: text === null ? null : partText(text),
  };
}

// ---------------------------------------------------------------------------------------------
// Variants.

/**
 * The same email with only its text/html part: every header kept (Received, Message-ID, Date), the
 * multipart/alternative Content-Type replaced by the HTML part's own.
 */
export function htmlOnlyCopy(raw: Buffer): Buffer {
  const message = splitMessage(raw.toString('latin1'));
  const html = findPart(message, 'text/html');
  if (html === null) throw new Error('the email has no text/html part');
  const contentFields = new Set(['content-type', 'content-transfer-encoding']);
  const nl = message.newline;
  const header = [
    ...message.fields.filter((f) => !contentFields.has(f.name)).map((f) => f.raw),
    ...html.fields.filter((f) => contentFields.has(f.name)).map((f) => f.raw),
  ].join(nl);
  return Buffer.from(`${header}${nl}${nl}${html.body}`, 'latin1');
}

/** The person who forwards the report to our inbox. */
export interface Forwarder {
  readonly name: string;
  readonly address: string;
  /** The forwarder's time zone: their client writes the quoted Date line (and its own Date header) in it. */
  readonly timeZone: string;
  /** The forwarder's note above the forwarded message, if any. */
  readonly note: string | null;
}

/** A Korean reader forwarding from Seoul, the usual case for this project. */
export const SEOUL_FORWARDER: Forwarder = {
  name: 'Kim Minjun',
  address: 'minjun.kim@example.kr',
  timeZone: 'Asia/Seoul',
  note: 'FYI — today’s report.',
};

/** A forwarder in ISW's own time zone. */
export const EASTERN_FORWARDER: Forwarder = {
  name: 'Dana Park',
  address: 'dana.park@example.com',
  timeZone: 'America/New_York',
  note: null,
};

// The forward is sent this long after the original arrived.
const FORWARD_DELAY_MS = 2 * 60 * 60 * 1000;
const INBOX = 'isw-inbox@example.com';

/** Wall-clock parts of an instant in a zone, via Intl (no offset arithmetic by hand). */
function zonedParts(
  instant: Date,
  timeZone: string,
  options: Intl.DateTimeFormatOptions,
): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat('en-US', { timeZone, ...options }).formatToParts(instant)) {
    parts[p.type] = p.value;
  }
  return parts;
}

/** Gmail's quoted date: "Mon, Mar 3, 2025 at 12:14 PM" (forwarder's zone, minutes, no zone name). */
export function gmailQuotedDate(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    year: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  });
  return `${p.weekday ?? ''}, ${p.month ?? ''} ${p.day ?? ''}, ${p.year ?? ''} at ${p.hour ?? ''}:${p.minute ?? ''} ${p.dayPeriod ?? ''}`;
}

/** Apple Mail's quoted date: "March 3, 2025 at 12:14:09 PM GMT+9" (seconds and a zone name). */
export function appleQuotedDate(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone, {
    month: 'long',
    day: 'numeric',
    year: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
  return `${p.month ?? ''} ${p.day ?? ''}, ${p.year ?? ''} at ${p.hour ?? ''}:${p.minute ?? ''}:${p.second ?? ''} ${p.dayPeriod ?? ''} ${p.timeZoneName ?? ''}`;
}

/** Outlook's quoted "Sent:" date: "Monday, March 3, 2025 12:14 PM" (forwarder's zone, minutes, no zone). */
export function outlookQuotedDate(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone, {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    year: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  });
  return `${p.weekday ?? ''}, ${p.month ?? ''} ${p.day ?? ''}, ${p.year ?? ''} ${p.hour ?? ''}:${p.minute ?? ''} ${p.dayPeriod ?? ''}`;
}

/** An RFC 5322 Date header in the forwarder's zone ("Mon, 03 Mar 2025 14:14:09 +0900"), as their client writes it. */
export function rfc5322Date(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone, {
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  });
  const offset = (p.timeZoneName ?? 'GMT').replace(/^GMT/, '').replace(':', '') || '+0000';
  return `${p.weekday ?? ''}, ${p.day ?? ''} ${p.month ?? ''} ${p.year ?? ''} ${p.hour ?? ''}:${p.minute ?? ''}:${p.second ?? ''} ${offset}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** What a mail client keeps of the original HTML when it quotes it: the body's content. */
function bodyContent(html: string): string {
  const open = /<body\b[^>]*>/i.exec(html);
  const close = html.search(/<\/body\s*>/i);
  if (open === null || close < 0) return html;
  return html.slice(open.index + open[0].length, close);
}

async function compose(options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  const node = new MailComposer(options).compile();
  return node.build();
}

function forwardEnvelope(original: OriginalHeaders, forwarder: Forwarder, subjectPrefix: string) {
  const sent = new Date(original.date.getTime() + FORWARD_DELAY_MS);
  return {
    from: { name: forwarder.name, address: forwarder.address },
    to: INBOX,
    subject: `${subjectPrefix} ${original.subject}`,
    // A string, so the header keeps the forwarder's own offset (a Date would be written in UTC).
    date: rfc5322Date(sent, forwarder.timeZone),
    messageId: `<fwd-${sent.getTime()}@${forwarder.address.slice(forwarder.address.indexOf('@') + 1)}>`,
    xMailer: false as const,
  };
}

function requireParts(parts: OriginalParts): { html: string; text: string } {
  if (parts.html === null || parts.text === null) {
    throw new Error('the original needs both an HTML and a text part to build this forward');
  }
  return { html: parts.html, text: parts.text };
}

/**
 * Gmail's inline forward: `<div class="gmail_quote"><div class="gmail_attr">---------- Forwarded
 * message ---------<br>From: …<br>Date: …<br>Subject: …<br>To: …<br></div><br><br>` and the
 * original body; the text part quotes the same header block over the original text.
 */
export async function gmailForward(raw: Buffer, forwarder: Forwarder = SEOUL_FORWARDER): Promise<Buffer> {
  const parts = originalParts(raw);
  const { html, text } = requireParts(parts);
  const h = parts.headers;
  const date = gmailQuotedDate(h.date, forwarder.timeZone);
  const note = forwarder.note === null ? '' : `${escapeHtml(forwarder.note)}<br><br>`;
  const fromHtml =
    `<strong class="gmail_sendername" dir="auto">${escapeHtml(h.fromName)}</strong> ` +
    `<span dir="auto">&lt;<a href="mailto:${h.fromAddress}">${h.fromAddress}</a>&gt;</span>`;
  const forwardedHtml =
    `<div dir="ltr">${note}<div class="gmail_quote gmail_quote_container">` +
    `<div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>` +
    `From: ${fromHtml}<br>Date: ${date}<br>Subject: ${escapeHtml(h.subject)}<br>` +
    `To: &lt;<a href="mailto:${h.to}">${h.to}</a>&gt;<br></div><br><br>` +
    `${bodyContent(html)}</div></div>`;
  const forwardedText =
    `${forwarder.note === null ? '' : `${forwarder.note}\n\n`}---------- Forwarded message ---------\n` +
    `From: ${h.fromName} <${h.fromAddress}>\nDate: ${date}\nSubject: ${h.subject}\nTo: <${h.to}>\n\n\n${text}`;
  return compose({ ...forwardEnvelope(h, forwarder, 'Fwd:'), text: forwardedText, html: forwardedHtml });
}

/**
 * Apple Mail's inline forward: "Begin forwarded message:", then one `<div>` per quoted header
 * ("From:", "Subject:", "Date:", "To:", "Reply-To:"), then the original inside the same
 * `<blockquote type="cite">`.
 */
export async function appleMailForward(raw: Buffer, forwarder: Forwarder = SEOUL_FORWARDER): Promise<Buffer> {
  const parts = originalParts(raw);
  const { html, text } = requireParts(parts);
  const h = parts.headers;
  const date = appleQuotedDate(h.date, forwarder.timeZone);
  const span = 'font-family: -webkit-system-font, Helvetica Neue, Helvetica, sans-serif;';
  const field = (name: string, value: string): string =>
    `<div style="margin: 0px;"><span style="${span} color:rgba(0, 0, 0, 1.0);"><b>${name}: </b></span>` +
    `<span style="${span}">${value}<br></span></div>`;
  const note = forwarder.note === null ? '' : `<div>${escapeHtml(forwarder.note)}</div>`;
  const forwardedHtml =
    `<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>` +
    `<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">` +
    `${note}<div><br><blockquote type="cite"><div>Begin forwarded message:</div>` +
    `<br class="Apple-interchange-newline">` +
    field('From', escapeHtml(`${h.fromName} <${h.fromAddress}>`)) +
    field('Subject', `<b>${escapeHtml(h.subject)}</b>`) +
    field('Date', escapeHtml(date)) +
    field('To', escapeHtml(h.to)) +
    field('Reply-To', escapeHtml(h.fromAddress)) +
    `<br><div>${bodyContent(html)}</div></blockquote></div><br></body></html>`;
  const forwardedText =
    `${forwarder.note === null ? '' : `${forwarder.note}\n\n`}Begin forwarded message:\n\n` +
    `From: ${h.fromName} <${h.fromAddress}>\nSubject: ${h.subject}\nDate: ${date}\nTo: ${h.to}\n` +
    `Reply-To: ${h.fromAddress}\n\n${text}`;
  return compose({ ...forwardEnvelope(h, forwarder, 'Fwd:'), text: forwardedText, html: forwardedHtml });
}

/**
 * Outlook's inline forward in its classic form: "-----Original Message-----", then "From:",
 * "Sent:", "To:", "Subject:" lines, then the original body; subject prefixed "FW:".
 */
export async function outlookForward(raw: Buffer, forwarder: Forwarder = SEOUL_FORWARDER): Promise<Buffer> {
  const parts = originalParts(raw);
  const { html, text } = requireParts(parts);
  const h = parts.headers;
  const sent = outlookQuotedDate(h.date, forwarder.timeZone);
  const note = forwarder.note === null ? '' : `<p class="MsoNormal">${escapeHtml(forwarder.note)}</p>`;
  const forwardedHtml =
    `<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>` +
    `<body lang="EN-US"><div class="WordSection1">${note}<p class="MsoNormal">&nbsp;</p>` +
    `<p class="MsoNormal">-----Original Message-----<br>` +
    `From: ${escapeHtml(`${h.fromName} <${h.fromAddress}>`)}<br>Sent: ${sent}<br>` +
    `To: ${escapeHtml(h.to)}<br>Subject: ${escapeHtml(h.subject)}</p>` +
    `<p class="MsoNormal">&nbsp;</p>${bodyContent(html)}</div></body></html>`;
  const forwardedText =
    `${forwarder.note === null ? '' : `${forwarder.note}\n\n`}-----Original Message-----\n` +
    `From: ${h.fromName} <${h.fromAddress}>\nSent: ${sent}\nTo: ${h.to}\nSubject: ${h.subject}\n\n${text}`;
  return compose({ ...forwardEnvelope(h, forwarder, 'FW:'), text: forwardedText, html: forwardedHtml });
}

/**
 * Outlook's inline forward as the desktop and web clients write it today: no marker line, a rule
 * (a bordered `<div>`; underscores in the text part), then "From:", "Sent:", "To:", "Subject:"
 * in one paragraph, then the original body; subject prefixed "FW:".
 */
export async function outlookModernForward(
  raw: Buffer,
  forwarder: Forwarder = SEOUL_FORWARDER,
): Promise<Buffer> {
  const parts = originalParts(raw);
  const { html, text } = requireParts(parts);
  const h = parts.headers;
  const sent = outlookQuotedDate(h.date, forwarder.timeZone);
  const note = forwarder.note === null ? '' : `<p class="MsoNormal">${escapeHtml(forwarder.note)}</p>`;
  const forwardedHtml =
    `<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>` +
    `<body lang="EN-US"><div class="WordSection1">${note}<p class="MsoNormal">&nbsp;</p>` +
    `<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">` +
    `<p class="MsoNormal"><b>From:</b> ${escapeHtml(`${h.fromName} <${h.fromAddress}>`)}<br>` +
    `<b>Sent:</b> ${sent}<br><b>To:</b> ${escapeHtml(h.to)}<br><b>Subject:</b> ${escapeHtml(h.subject)}</p></div>` +
    `<p class="MsoNormal">&nbsp;</p>${bodyContent(html)}</div></body></html>`;
  const forwardedText =
    `${forwarder.note === null ? '' : `${forwarder.note}\n\n`}________________________________\n` +
    `From: ${h.fromName} <${h.fromAddress}>\nSent: ${sent}\nTo: ${h.to}\nSubject: ${h.subject}\n\n${text}`;
  return compose({ ...forwardEnvelope(h, forwarder, 'FW:'), text: forwardedText, html: forwardedHtml });
}

/**
 * A forward "as attachment": the forwarder's short note, and the original email byte for byte
 * as a message/rfc822 part (Content-Disposition `attachment` unless told otherwise).
 */
export async function attachmentForward(
  raw: Buffer,
  forwarder: Forwarder = SEOUL_FORWARDER,
  disposition: 'attachment' | 'inline' = 'attachment',
): Promise<Buffer> {
  const h = originalParts(raw).headers;
  return compose({
    ...forwardEnvelope(h, forwarder, 'Fwd:'),
    text: forwarder.note ?? 'Forwarded as an attachment.',
    attachments: [
      {
        content: raw,
        contentType: 'message/rfc822',
        contentDisposition: disposition,
        filename: `${h.subject}.eml`,
      },
    ],
  });
}

/** Every forward variant by name, for tests that loop over them. */
export const FORWARD_VARIANTS = {
  gmail: gmailForward,
  'apple-mail': appleMailForward,
  outlook: outlookForward,
  'outlook-modern': outlookModernForward,
  attachment: (raw: Buffer, forwarder?: Forwarder) => attachmentForward(raw, forwarder, 'attachment'),
  'attachment-inline': (raw: Buffer, forwarder?: Forwarder) => attachmentForward(raw, forwarder, 'inline'),
} as const;

export type ForwardVariant = keyof typeof FORWARD_VARIANTS;

/** True for the variants that quote the original in the body (its Message-ID is then lost). */
export function isInlineForward(variant: ForwardVariant): boolean {
  return variant !== 'attachment' && variant !== 'attachment-inline';
}
