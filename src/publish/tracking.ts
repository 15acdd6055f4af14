/**
 * What counts as a tracking link or a personal address, and how to clean a URL. Shared by the link
 * resolver (which must not end on a tracking host), the renderer (which scrubs the email's text) and
 * the final safety check (which refuses a post that still carries either).
 */

/**
 * Hosts (and their subdomains) of Constant Contact's click tracking and sending infrastructure.
 * Every link of an ISW email goes through `r20.rs6.net/tn.jsp` or `<id>.cc.rs6.net/tn.jsp`, and the
 * query (`f=…&c=…&ch=…`) identifies the subscriber, so such a URL must never be published.
 */
export const TRACKING_HOSTS: readonly string[] = [
  'rs6.net',
  'constantcontact.com',
  'ccsend.com',
  'ctctcdn.com',
  'ctctusercontent.com',
];

/** The same hosts as a pattern for plain text (case-insensitive): `rs6.net`, `constantcontact`, `ccsend`. */
export const TRACKING_TEXT = /rs6\.net|constantcontact|ccsend|ctctcdn|ctctusercontent/i;

/**
 * An email address anywhere in a string. Deliberately broad (no RFC 5322 quoting): it only has to
 * catch what a newsletter footer or a `mailto:` link could carry, and a false positive merely hides text.
 */
export const EMAIL_ADDRESS = /[A-Z0-9._%+'-]+@[A-Z0-9-]+(?:\.[A-Z0-9-]+)*\.[A-Z]{2,}/gi;

/**
 * Query parameters that identify a reader or a campaign and change nothing on the page: Google
 * Analytics `utm_*` (matched by prefix), Mailchimp `mc_*`, HubSpot `_hs*`, ad click ids, Marketo,
 * ConvertKit. Removing them keeps the published URL canonical and free of the subscriber's ids.
 */
const TRACKING_PARAMS = new Set([
  'mc_cid',
  'mc_eid',
  '_hsenc',
  '_hsmi',
  '__hstc',
  '__hssc',
  '__hsfp',
  'hsctatracking',
  'fbclid',
  'gclid',
  'dclid',
  'msclkid',
  'yclid',
  'igshid',
  'mkt_tok',
  'ck_subscriber_id',
  'vero_id',
  'vero_conv',
  'oly_enc_id',
  'oly_anon_id',
  '_ga',
  '_gl',
  'ss_source',
  'ss_campaign_id',
  'ss_email_id',
  'trk',
]);
const TRACKING_PARAM_PREFIXES = ['utm_', 'mc_', 'pk_', 'mtm_'];

/** True when `host` is one of {@link TRACKING_HOSTS} or a subdomain of one. */
export function isTrackingHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return TRACKING_HOSTS.some((t) => h === t || h.endsWith(`.${t}`));
}

/** True for an http(s) URL whose host is a tracking host; false for anything else, even unparsable. */
export function isTrackingUrl(url: string | URL): boolean {
  const parsed = typeof url === 'string' ? URL.parse(url) : url;
  return parsed !== null && isTrackingHost(parsed.hostname);
}

/** True when the string contains an email address. */
export function containsEmailAddress(text: string): boolean {
  // Every match has an "@": without one the answer is known, and the pattern's backtracking over
  // each run of letters (O(n·k) on a whole post) is skipped.
  if (!text.includes('@')) return false;
  EMAIL_ADDRESS.lastIndex = 0;
  const found = EMAIL_ADDRESS.test(text);
  EMAIL_ADDRESS.lastIndex = 0;
  return found;
}

/**
 * A URL fit to publish: tracking parameters removed, any parameter whose value is an email
 * address removed (some landing pages echo `?email=`), user:password removed. Returns null when
 * the URL is not http(s), points at a tracking host, or still contains an email address after
 * cleaning (in its path, say).
 */
export function cleanPublicUrl(url: string | URL): string | null {
  const parsed = URL.parse(typeof url === 'string' ? url : url.href);
  if (parsed === null) return null;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  if (isTrackingHost(parsed.hostname)) return null;
  parsed.username = '';
  parsed.password = '';
  for (const name of [...new Set(parsed.searchParams.keys())]) {
    const lower = name.toLowerCase();
    const values = parsed.searchParams.getAll(name);
    if (
      TRACKING_PARAMS.has(lower) ||
      TRACKING_PARAM_PREFIXES.some((p) => lower.startsWith(p)) ||
      values.some((v) => containsEmailAddress(v))
    ) {
      parsed.searchParams.delete(name);
    }
  }
  const href = parsed.href;
  // `URL` leaves a bare "?" behind when the last parameter was removed.
  const cleaned = parsed.search === '' ? href.replace(/\?(?=#|$)/, '') : href;
  if (containsEmailAddress(decodeSafely(cleaned))) return null;
  return cleaned;
}

/** What a reader sees in place of a scrubbed address or tracking link. */
export const REMOVED_EMAIL = '[email address removed]';
export const REMOVED_LINK = '[link removed]';

// A URL-ish run of characters touching a tracking host: with or without a scheme, up to whitespace.
const TRACKING_URL_IN_TEXT =
  /(?:https?:\/\/)?[^\s"'<>()]*(?:rs6\.net|constantcontact\.com|ccsend\.com|ctctcdn\.com|ctctusercontent\.com)[^\s"'<>()]*/gi;

/**
 * Text from the email or the model, with email addresses and tracking URLs replaced by a marker.
 * The parser already drops Constant Contact's footer; this is the renderer's own guarantee, so a
 * "sent to isw-inbox@…" line that slips through is hidden rather than published.
 */
export function scrubText(text: string): string {
  const withoutEmails = text.includes('@') ? text.replace(EMAIL_ADDRESS, REMOVED_EMAIL) : text;
  return withoutEmails.replace(TRACKING_URL_IN_TEXT, REMOVED_LINK);
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed %-escape: check the raw text instead, which is what a reader would see.
    return text;
  }
}
