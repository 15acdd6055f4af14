import { signToken } from './tokens.js';

/** The subscriber facts a link is made from. */
export interface LinkSubject {
  readonly id: string;
  readonly address: string;
}

/** Builds the signed links of emails and pages. */
export interface LinkBuilder {
  /** The public subscribe form. */
  readonly subscribeUrl: string;
  /** GET: a page with a button; POST: confirms (double opt-in). */
  confirmUrl(subscriber: LinkSubject, now: number): string;
  /**
   * GET: a page with a button; POST (RFC 8058 one-click, `List-Unsubscribe=One-Click`): unsubscribes.
   * The same URL serves the List-Unsubscribe header and the visible link.
   */
  unsubscribeUrl(subscriber: LinkSubject, now: number): string;
  /**
   * `mailto:` for List-Unsubscribe (RFC 2369), the token in the subject; null when no mailbox reads
   * that address (see `NotifySettings.unsubscribeMailto`).
   */
  unsubscribeMailto(subscriber: LinkSubject, now: number): string | null;
  /** Both unsubscribe targets of one email, from one signature (`mailto` null as above). */
  unsubscribeLinks(
    subscriber: LinkSubject,
    now: number,
  ): { readonly url: string; readonly mailto: string | null };
}

export interface LinkOptions {
  /** PUBLIC_BASE_URL, without a trailing slash (a path prefix is kept: https://x.org/isw). */
  readonly baseUrl: string;
  readonly secret: string;
  /** UNSUBSCRIBE_MAILTO when the bot's IMAP mailbox reads it; null: no `mailto:` is advertised. */
  readonly mailto: string | null;
}

/** Paths of the public routes, relative to PUBLIC_BASE_URL (http.ts serves them). */
export const PUBLIC_PATHS = {
  subscribe: '/subscribe',
  confirm: '/confirm',
  unsubscribe: '/unsubscribe',
} as const;

export function createLinks(options: LinkOptions): LinkBuilder {
  const base = options.baseUrl.replace(/\/+$/, '');
  const seconds = (now: number): number => Math.floor(now / 1000);
  const token = (purpose: 'confirm' | 'unsubscribe', s: LinkSubject, now: number): string =>
    signToken({ purpose, subscriberId: s.id, issuedAt: seconds(now) }, s.address, options.secret);
  const unsubscribeUrl = (t: string): string => `${base}${PUBLIC_PATHS.unsubscribe}?token=${t}`;
  const { mailto } = options;
  const unsubscribeMailto = (t: string): string | null =>
    mailto === null ? null : `mailto:${mailto}?subject=${encodeURIComponent(`unsubscribe ${t}`)}`;
  return {
    subscribeUrl: `${base}${PUBLIC_PATHS.subscribe}`,
    confirmUrl: (s, now) => `${base}${PUBLIC_PATHS.confirm}?token=${token('confirm', s, now)}`,
    unsubscribeUrl: (s, now) => unsubscribeUrl(token('unsubscribe', s, now)),
    unsubscribeMailto: (s, now) => unsubscribeMailto(token('unsubscribe', s, now)),
    unsubscribeLinks: (s, now) => {
      const t = token('unsubscribe', s, now);
      return { url: unsubscribeUrl(t), mailto: unsubscribeMailto(t) };
    },
  };
}
