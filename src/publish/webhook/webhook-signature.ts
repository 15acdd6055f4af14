import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header with the send time, in whole seconds since the Unix epoch. */
export const TIMESTAMP_HEADER = 'X-IswKo-Timestamp';
/** Header with `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'X-IswKo-Signature';
/** How old a delivery may be before receivers refuse it (replay protection), by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * The signature of one delivery: HMAC-SHA256 keyed with the shared secret over
 * `"<timestamp>.<body>"` (the raw body bytes as sent), hex, prefixed `sha256=`. Signing the
 * timestamp with the body means an old delivery cannot be replayed with a fresh timestamp.
 */
export function signWebhook(secret: string, timestamp: string, body: string | Buffer): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/** What a receiver got: the raw body and the two headers, as received. */
export interface WebhookDelivery {
  readonly secret: string;
  /** The raw request body, before any JSON parsing (re-serialised JSON would not match). */
  readonly body: string | Buffer;
  readonly timestamp: string | null | undefined;
  readonly signature: string | null | undefined;
  /** Refuse deliveries older or newer than this; default {@link DEFAULT_TOLERANCE_SECONDS}. */
  readonly toleranceSeconds?: number;
  /** The receiver's clock in ms (tests pin it); default `Date.now()`. */
  readonly nowMs?: number;
}

/**
 * True when a delivery is authentic and fresh: both headers present, the timestamp within the
 * tolerance of the receiver's clock, and the signature equal (compared in constant time) to
 * {@link signWebhook} of the raw body. For receivers of isw-ko's webhook.
 *
 * ```ts
 * const ok = verifyWebhookSignature({
 *   secret, body: rawBody,
 *   timestamp: req.headers['x-iswko-timestamp'], signature: req.headers['x-iswko-signature'],
 * });
 * ```
 */
export function verifyWebhookSignature(delivery: WebhookDelivery): boolean {
  const { timestamp, signature } = delivery;
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
  if (typeof signature !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(signature)) return false;
  const tolerance = delivery.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((delivery.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) return false;
  const expected = Buffer.from(signWebhook(delivery.secret, timestamp, delivery.body), 'utf8');
  const given = Buffer.from(signature.toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
