import { createHash } from 'node:crypto';

/**
 * Small, dependency-free readers of the RFC 5322 header section, enough for the inbox's
 * decisions (who sent it, its Message-ID, its Authentication-Results). The parser stage does the
 * real MIME work later; the inbox only needs a few unfolded fields.
 */

// A header section longer than this is not a newsletter's; reading stops there.
const MAX_HEADER_BYTES = 256 * 1024;

/** The header section of raw bytes (up to the first empty line), as latin1 text. */
export function headerSection(raw: Buffer): string {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  const end = ends.length === 0 ? Math.min(raw.length, MAX_HEADER_BYTES) : Math.min(...ends);
  return raw.subarray(0, Math.min(end, MAX_HEADER_BYTES)).toString('latin1');
}

/**
 * Every value of one header field, in order (top first), unfolded (RFC 5322 §2.2.3: a line
 * break followed by white space is folding, not the end of the field).
 */
export function headerValues(head: string, name: string): string[] {
  const out: string[] = [];
  const wanted = name.toLowerCase();
  let current: { name: string; value: string } | null = null;
  const flush = (): void => {
    if (current !== null && current.name === wanted) out.push(current.value.trim());
  };
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && current !== null) {
      current.value += ` ${line.trim()}`;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    current =
      colon > 0 ? { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) } : null;
  }
  flush();
  return out;
}

/** The first value of a header field, or null. */
export function headerValue(head: string, name: string): string | null {
  return headerValues(head, name)[0] ?? null;
}

function stableId(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex').slice(0, 24);
}

/**
 * The key of an email by its Message-ID (whitespace removed, case folded), so the same message
 * fetched twice — after a UIDVALIDITY change, from another folder, by backfill — is recognised.
 * It is computed exactly as the queue's `emailIdOf`, so a held message's id is also the id its
 * email gets in the pipeline once released.
 */
export function messageKeyFromId(messageId: string): string {
  return `m${stableId(messageId.replace(/\s+/g, '').toLowerCase())}`;
}

/** The key of raw bytes: by Message-ID, or a hash of the bytes when there is none. */
export function messageKeyOf(raw: Buffer): string {
  const id = messageIdOf(headerSection(raw));
  return id === null ? `h${stableId(raw)}` : messageKeyFromId(id);
}

/** The Message-ID field's value of a header section, or null when it has none. */
export function messageIdOf(head: string): string | null {
  const value = headerValue(head, 'message-id')?.replace(/\s+/g, '');
  return value === undefined || value === '' ? null : value;
}
