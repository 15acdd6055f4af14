import {
  MailParser,
  type AddressObject,
  type AttachmentStream,
  type Headers,
  type MessageText,
} from 'mailparser';
import iconv from 'iconv-lite';
import { ParseError } from './parse-error.js';

/** What the MIME layer gives the rest of the parser: headers, the text parts, attached emails. */
export interface MimeContent {
  readonly headers: Headers;
  /**
   * The Date header as written ("Mon, 03 Mar 2025 14:14:09 +0900"); mailparser's Date object
   * drops the offset, which tells in which zone the sender's client (a forwarder's) was.
   */
  readonly rawDate: string | null;
  readonly html: string | null;
  readonly text: string | null;
  /** Raw bytes of `message/rfc822` parts (a forwarded email sent as an attachment). */
  readonly attachedMessages: readonly Buffer[];
  readonly warnings: readonly string[];
}

export interface ReadMimeOptions {
  /** Attached emails larger than this are drained, not kept. */
  readonly maxAttachedMessageBytes: number;
}

// A header section starts with a field name and a colon (RFC 5322 §2.2); mbox "From " lines are tolerated.
const HEADER_LINE = /^(?:[!-9;-~]+:|From )/;
// U+FFFD is what a decoder writes for bytes that are not in the declared charset. C0 control
// characters (all but tab, CR, LF, VT and FF) are what a UTF-16 text read as an 8-bit
// charset turns into ("П" is 1F 04): they never occur in real mail text either.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const UNDECODED = /[\uFFFD\x00-\x08\x0E-\x1F]/g;

/**
 * Stream the message through mailparser. Text parts are decoded; attachments are drained as they
 * stream by (a 30 MB PDF is never held), except attached emails, which are kept for a second pass.
 * `ignoreEmbedded` keeps mailparser from splicing an attached email's body into the outer one.
 */
export async function readMime(input: Buffer, options: ReadMimeOptions): Promise<MimeContent> {
  // White space before the first header line (a saved file with a stray blank line) is dropped
  // here, not only in the check below: mailparser would read a leading blank line as the end of an
  // empty header section and the real headers as body text.
  const raw = input.subarray(leadingWhiteSpace(input));
  checkHeaderSection(raw);
  const parser = new MailParser({
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
    skipTextLinks: true,
    ignoreEmbedded: true,
  } as ConstructorParameters<typeof MailParser>[0]);

  let headers: Headers | undefined;
  let rawDate: string | null = null;
  let html: string | null = null;
  let text: string | null = null;
  const attachedMessages: Buffer[] = [];
  const warnings: string[] = [];

  const done = new Promise<void>((resolve, reject) => {
    parser.on('headers', (h: Headers) => {
      headers = h;
    });
    parser.on('headerLines', (lines: readonly { key: string; line: string }[]) => {
      const line = lines.find((l) => l.key === 'date')?.line;
      if (line !== undefined)
        rawDate = line
          .slice(line.indexOf(':') + 1)
          .replace(/\s+/g, ' ')
          .trim();
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        html = typeof data.html === 'string' && data.html.length > 0 ? data.html : null;
        text = typeof data.text === 'string' && data.text.length > 0 ? data.text : null;
        return;
      }
      consumeAttachment(data, options.maxAttachedMessageBytes, attachedMessages, warnings);
    });
    parser.on('error', (err: unknown) => {
      reject(
        new ParseError('MALFORMED_MIME', `mailparser could not read the message: ${String(err)}`, {
          cause: err,
        }),
      );
    });
    parser.on('end', () => {
      resolve();
    });
  });
  parser.end(raw);
  await done;

  if (headers === undefined) throw new ParseError('MALFORMED_MIME', 'the message has no header section');
  checkMultipart(headers, raw);
  const decoded = { html: html as string | null, text: text as string | null };
  checkCharset(raw, decoded);
  return { headers, rawDate, html: decoded.html, text: decoded.text, attachedMessages, warnings };
}

function consumeAttachment(
  data: AttachmentStream,
  maxBytes: number,
  kept: Buffer[],
  warnings: string[],
): void {
  const isMessage = data.contentType === 'message/rfc822';
  const chunks: Buffer[] = [];
  let size = 0;
  data.content.on('data', (chunk: Buffer) => {
    if (!isMessage) return; // drained: the bytes are dropped as they arrive
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  });
  data.content.on('end', () => {
    if (isMessage) {
      if (size <= maxBytes) kept.push(Buffer.concat(chunks, size));
      else warnings.push(`an attached email of ${size} bytes was larger than ${maxBytes} and was skipped`);
    }
    data.release();
  });
}

/** How many bytes of white space (SP, HTAB, CR, LF) the message starts with. */
function leadingWhiteSpace(raw: Buffer): number {
  let i = 0;
  while (i < raw.length && (raw[i] === 0x20 || raw[i] === 0x09 || raw[i] === 0x0d || raw[i] === 0x0a)) i += 1;
  return i;
}

function checkHeaderSection(raw: Buffer): void {
  const head = raw.subarray(0, 2048).toString('latin1');
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  if (!HEADER_LINE.test(firstLine)) {
    throw new ParseError(
      'MALFORMED_MIME',
      `the message does not start with a header line (got ${JSON.stringify(firstLine.slice(0, 60))})`,
    );
  }
}

function checkMultipart(headers: Headers, raw: Buffer): void {
  const contentType = headers.get('content-type');
  if (contentType === undefined || typeof contentType !== 'object' || !('value' in contentType)) return;
  const { value, params } = contentType as { value: string; params: Record<string, string> };
  if (!value.startsWith('multipart/')) return;
  const boundary = params.boundary;
  if (boundary === undefined || boundary === '') {
    throw new ParseError('MALFORMED_MIME', `the message is ${value} but declares no boundary`);
  }
  if (!raw.includes(`--${boundary}`)) {
    throw new ParseError('MALFORMED_MIME', `the multipart boundary "${boundary}" never occurs in the body`);
  }
  // RFC 2046 §5.1.1: a multipart body ends with the close delimiter "--boundary--". Without it
  // the message was cut off (an interrupted download, a size-limited fetch), and mailparser would
  // quietly return whatever part it was in the middle of: a report with its end missing.
  if (!raw.includes(`--${boundary}--`)) {
    throw new ParseError(
      'MALFORMED_MIME',
      `the message ends before the closing multipart boundary "--${boundary}--": it looks truncated`,
    );
  }
}

/**
 * mailparser falls back to UTF-8 when a part declares a charset iconv does not know. That is
 * fine when the bytes are UTF-8 (or ASCII) anyway; when they are not, the text is garbage and we
 * say so rather than publish mojibake.
 */
function checkCharset(raw: Buffer, decoded: { html: string | null; text: string | null }): void {
  // Each part on its own: concatenating them would copy the whole text once more per message.
  const html = decoded.html ?? '';
  const text = decoded.text ?? '';
  const bad = (html.match(UNDECODED)?.length ?? 0) + (text.match(UNDECODED)?.length ?? 0);
  // Only a text with undecodable bytes needs the (costly on a large message) look at what was declared.
  if (bad === 0) return;
  const declared = new Set<string>();
  for (const m of raw.toString('latin1').matchAll(/charset\s*=\s*"?([^";\s]+)/gi)) {
    if (m[1] !== undefined) declared.add(m[1]);
  }
  const unknown = [...declared].filter((name) => !iconv.encodingExists(name));
  const which =
    unknown.length > 0
      ? `declares the unknown charset ${unknown.map((u) => JSON.stringify(u)).join(', ')} and its text is not valid UTF-8 either`
      : `has text that does not decode in its declared charset ${[...declared].join(', ') || '(none, read as UTF-8)'}`;
  // A stray replacement character or two can be in the original; a run of them is mojibake.
  if (bad >= 3 || bad / (html.length + text.length) > 0.001) {
    throw new ParseError('INVALID_CHARSET', `the message ${which} (${bad} undecodable characters)`, {
      details: { charsets: [...declared] },
    });
  }
}

/** The first address of an address header, or null. */
export function firstAddress(
  value: AddressObject | AddressObject[] | undefined,
): { name: string; address: string } | null {
  const obj = Array.isArray(value) ? value[0] : value;
  const first = obj?.value[0];
  if (first?.address === undefined) return null;
  return { name: first.name, address: first.address.toLowerCase() };
}
