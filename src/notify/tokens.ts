import { createHmac, timingSafeEqual } from 'node:crypto';
import { NotifyError } from './notify-error.js';

/**
 * What a token lets its bearer do. The purpose is inside the MAC, so an unsubscribe token can never
 * confirm a subscription (or the reverse), even though both travel in the same kind of URL.
 */
export type TokenPurpose = 'confirm' | 'unsubscribe';

/** The readable part of a token. Not to be trusted until {@link verifyToken} has checked the MAC. */
export interface TokenClaims {
  readonly purpose: TokenPurpose;
  readonly subscriberId: string;
  /** Unix time in seconds. */
  readonly issuedAt: number;
}

/**
 * A confirmation link works for a week: long enough for a slow reader, short enough that an old
 * link found in a mailbox does not re-subscribe someone who has moved on.
 */
export const CONFIRM_TOKEN_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * Unsubscribe links never expire: RFC 8058 one-click and the visible link must keep working from an
 * old digest (CAN-SPAM wants at least 30 days; readers expect forever).
 */
export const UNSUBSCRIBE_TOKEN_MAX_AGE_MS: number | null = null;

const VERSION = 'v1';
const PURPOSE_CODES: Record<TokenPurpose, string> = { confirm: 'c', unsubscribe: 'u' };
const SUBSCRIBER_ID = /^s[0-9a-f]{24}$/;
// A token is printable, URL-safe ASCII: base64url MAC, base36 time, our id, dots.
const TOKEN_SHAPE = /^v1\.([cu])\.(s[0-9a-f]{24})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;
// A minute of clock skew between the process that signed and the one that verifies.
const FUTURE_SKEW_MS = 60_000;

/**
 * Sign a token for one purpose, one subscriber and one address: `v1.<p>.<subscriberId>.<iat>.<mac>`
 * with mac = HMAC-SHA256(secret, version, purpose, id, iat, lower-cased address). The address is in
 * the MAC but not in the token, so a token in a URL (logs, Referer) does not reveal it, and a token
 * cannot be moved to another address: the verifier recomputes the MAC with the address stored for
 * the id, and the id is itself a hash of the address.
 */
export function signToken(claims: TokenClaims, address: string, secret: string): string {
  if (!SUBSCRIBER_ID.test(claims.subscriberId))
    throw new Error(`not a subscriber id: ${claims.subscriberId}`);
  const iat = Math.floor(claims.issuedAt).toString(36);
  const p = PURPOSE_CODES[claims.purpose];
  return `${VERSION}.${p}.${claims.subscriberId}.${iat}.${mac(secret, p, claims.subscriberId, iat, address)}`;
}

/** Read a token's claims without checking it (to know whose address to verify it with), or null. */
export function readToken(token: string): TokenClaims | null {
  const m = TOKEN_SHAPE.exec(token.trim());
  if (m === null) return null;
  const [, p, subscriberId, iat] = m;
  if (p === undefined || subscriberId === undefined || iat === undefined) return null;
  const issuedAt = parseInt(iat, 36);
  if (!Number.isSafeInteger(issuedAt)) return null;
  return { purpose: p === 'c' ? 'confirm' : 'unsubscribe', subscriberId, issuedAt };
}

export interface VerifyOptions {
  /** Now, in milliseconds (an injectable clock). */
  readonly now: number;
  /** Oldest accepted token; null for no limit. Default: by purpose (a week to confirm, forever to leave). */
  readonly maxAgeMs?: number | null;
}

/**
 * Check a token for `purpose` against the address stored for its subscriber, in constant time.
 *
 * @throws NotifyError `TOKEN_INVALID` (malformed, other purpose, forged, other address, from the
 *   future) or `TOKEN_EXPIRED`
 */
export function verifyToken(
  token: string,
  purpose: TokenPurpose,
  address: string,
  secret: string,
  options: VerifyOptions,
): TokenClaims {
  const m = TOKEN_SHAPE.exec(token.trim());
  const claims = readToken(token);
  const given = m?.[4];
  if (m === null || claims === null || given === undefined) {
    throw new NotifyError('TOKEN_INVALID', 'the link is malformed');
  }
  const expected = mac(secret, PURPOSE_CODES[purpose], claims.subscriberId, m[3] ?? '', address);
  // Compare before looking at anything else the token says, and in constant time, so the answer
  // (and its timing) tells a forger nothing about how close a guess was.
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b) || claims.purpose !== purpose) {
    throw new NotifyError('TOKEN_INVALID', 'the link is not valid for this address or action');
  }
  const issuedMs = claims.issuedAt * 1000;
  if (issuedMs > options.now + FUTURE_SKEW_MS) {
    throw new NotifyError('TOKEN_INVALID', 'the link was issued in the future');
  }
  const maxAge =
    options.maxAgeMs === undefined
      ? purpose === 'confirm'
        ? CONFIRM_TOKEN_MAX_AGE_MS
        : UNSUBSCRIBE_TOKEN_MAX_AGE_MS
      : options.maxAgeMs;
  if (maxAge !== null && options.now - issuedMs > maxAge) {
    throw new NotifyError('TOKEN_EXPIRED', 'the link has expired');
  }
  return claims;
}

function mac(
  secret: string,
  purposeCode: string,
  subscriberId: string,
  iat: string,
  address: string,
): string {
  return createHmac('sha256', secret)
    .update(`isw-ko/${VERSION}\n${purposeCode}\n${subscriberId}\n${iat}\n${address.trim().toLowerCase()}`)
    .digest('base64url');
}

/**
 * The token in the Subject of a mail sent to the List-Unsubscribe mailto: address (RFC 2369), e.g.
 * "unsubscribe v1.u.s0123…" (clients may prefix "Re:" or "Fwd:"), or null. For the inbox stage,
 * which receives those mails.
 */
export function tokenFromUnsubscribeSubject(subject: string): string | null {
  const m = /\b(v1\.u\.s[0-9a-f]{24}\.[0-9a-z]{1,12}\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/.exec(subject);
  return m?.[1] ?? null;
}
