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
// U+FFFD is what a decoder writes for bytes that are not in the declared charset.
const REPLACEMENT = /\uFFFD/g;

/**
 * Stream the message through mailparser. Text parts are decoded; attachments are drained as they
 * stream by (a 30 MB PDF is never held), except attached emails, which are kept for a second pass.
 * `ignoreEmbedded` keeps mailparser from splicing an attached email's body into the outer one.
 */
export async function readMime(raw: Buffer, options: ReadMimeOptions): Promise<MimeContent> {
  checkHeaderSection(raw);
  const parser = new MailParser({
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
    skipTextLinks: true,
    ignoreEmbedded: true,
  } as ConstructorParameters<typeof MailParser>[0]);

  let headers: Headers | undefined;
  let html: string | null = null;
  let text: string | null = null;
  const attachedMessages: Buffer[] = [];
  const warnings: string[] = [];

  const done = new Promise<void>((resolve, reject) => {
    parser.on('headers', (h: Headers) => {
      headers = h;
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
  return { headers, html: decoded.html, text: decoded.text, attachedMessages, warnings };
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

function checkHeaderSection(raw: Buffer): void {
  const head = raw.subarray(0, 2048).toString('latin1').replace(/^\s+/, '');
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
}

/**
 * mailparser falls back to UTF-8 when a part declares a charset iconv does not know. That is
 * fine when the bytes are UTF-8 (or ASCII) anyway; when they are not, the text is garbage and we
 * say so rather than publish mojibake.
 */
function checkCharset(raw: Buffer, decoded: { html: string | null; text: string | null }): void {
  const sample = `${decoded.html ?? ''}${decoded.text ?? ''}`;
  const bad = sample.match(REPLACEMENT)?.length ?? 0;
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
  if (bad >= 3 || bad / sample.length > 0.001) {
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
