import { encode, wrap } from 'nodemailer/lib/qp';
import { UNSUBSCRIBE_URL_PLACEHOLDER, type RenderedDigest } from './render-digest.js';

/**
 * A digest's two body parts encoded once for all its subscribers.
 *
 * Encoding a 20 KB Korean body as quoted-printable is most of what it costs nodemailer to build a
 * message, and every subscriber's copy differs only in the one line that holds their unsubscribe
 * link. So each part is encoded once, in three pieces split at line breaks — before that line, the
 * line, after it — and only the line is encoded again per subscriber. Quoted-printable (RFC 2045
 * §6.7) encodes each line on its own: a hard line break resets the line length, so pieces split at
 * CRLF and encoded separately join into a valid encoding of the whole. nodemailer's own encoder is
 * used for every piece, and nodemailer still builds the headers and the multipart structure,
 * taking the parts as pre-encoded (`raw`) nodes.
 */
export interface EncodedPart {
  /** The part's MIME header and the blank line after it. */
  readonly head: string;
  /** The encoded lines before the personal line (ends with CRLF, or empty). */
  readonly before: string;
  /** The personal line, not yet encoded, with the placeholder in it. */
  readonly line: string;
  /** The encoded rest, from the CRLF that ends the personal line. */
  readonly after: string;
}

export interface EncodedBody {
  readonly text: EncodedPart;
  readonly html: EncodedPart;
}

/** A rendered digest and its encoded body, as the render cache keeps them. */
export interface PreparedDigest extends RenderedDigest {
  /** Null when a part does not hold exactly one placeholder (then every copy is encoded in full). */
  readonly encoded: EncodedBody | null;
}

// RFC 2045 §6.7 (5): encoded lines are at most 76 characters.
const QP_LINE_LENGTH = 76;

const qp = (text: string): string => (text === '' ? '' : wrap(encode(text), QP_LINE_LENGTH));

function encodePart(contentType: string, content: string, placeholder: string): EncodedPart | null {
  const crlf = content.replace(/\r?\n/g, '\r\n');
  const at = crlf.indexOf(placeholder);
  if (at < 0 || crlf.indexOf(placeholder, at + placeholder.length) >= 0) return null;
  const previousBreak = crlf.lastIndexOf('\r\n', at);
  const lineStart = previousBreak < 0 ? 0 : previousBreak + 2;
  const nextBreak = crlf.indexOf('\r\n', at);
  const lineEnd = nextBreak < 0 ? crlf.length : nextBreak;
  return {
    head: `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`,
    before: qp(crlf.slice(0, lineStart)),
    line: crlf.slice(lineStart, lineEnd),
    after: qp(crlf.slice(lineEnd)),
  };
}

/** Encode a rendered digest's parts once (see {@link EncodedPart}). */
export function prepareDigest(rendered: RenderedDigest): PreparedDigest {
  const text = encodePart('text/plain', rendered.text, UNSUBSCRIBE_URL_PLACEHOLDER);
  const html = encodePart('text/html', rendered.html, UNSUBSCRIBE_URL_PLACEHOLDER);
  return { ...rendered, encoded: text === null || html === null ? null : { text, html } };
}

/** One subscriber's copy of an encoded part: the personal line encoded with its value. */
export function personalPart(part: EncodedPart, value: string): string {
  return `${part.head}${part.before}${qp(part.line.split(UNSUBSCRIBE_URL_PLACEHOLDER).join(value))}${part.after}`;
}
