import type { ReportLink } from '../parse/report.js';
import type { Logger } from '../shared/logger.js';
import { iswReportUrl } from './isw-products.js';
import type { ResolvedLink } from './post.js';
import { cleanPublicUrl, isTrackingHost } from './tracking.js';

export interface LinkResolverOptions {
  /** Budget for one link's whole redirect chain, in milliseconds. */
  readonly timeoutMs: number;
  /** Redirects followed per link before giving up (a chain longer than this is treated as a loop). */
  readonly maxHops?: number;
  /** Injected in tests; `globalThis.fetch` (undici) by default. */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Results by the email's URL: the public target, or null when the link is known not to resolve.
   * Pass one map to several resolvers to share it; transient failures (timeouts) are not cached.
   */
  readonly cache?: Map<string, string | null>;
  /** The cache forgets its oldest entries beyond this many (tracking URLs are unique per email, so it only grows). */
  readonly maxCacheEntries?: number;
  /** Links resolved at the same time, per `resolve` call. */
  readonly concurrency?: number;
  /** false: no network at all; links are kept only when already public, full reports fall back. */
  readonly followRedirects?: boolean;
  readonly logger?: Logger;
}

/** What `resolve` needs to know about the report to build the fallback URL. */
export interface LinkContext {
  readonly product: string | null;
  readonly publishedAt: string;
}

// 301, 302, 303, 307, 308 carry a Location (RFC 9110 §15.4); 300 and 304 do not send us anywhere.
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_MAX_HOPS = 5;
const DEFAULT_MAX_CACHE_ENTRIES = 5000;
const DEFAULT_CONCURRENCY = 4;
// A tracking host answering 200 may redirect with <meta http-equiv="refresh">; it is in the head.
const META_REFRESH_SCAN_BYTES = 64 * 1024;
const USER_AGENT = 'isw-ko link resolver (+https://github.com/isw-ko)';
/** Text of a full-report link that the email did not have (see {@link LinkResolver.resolve}). */
export const FALLBACK_FULL_REPORT_TEXT = 'Click here to read the full report.';

/** Why a link did not resolve; `transient` ones are worth trying again later. */
type Outcome =
  | { readonly ok: true; readonly url: string; readonly hops: number }
  | { readonly ok: false; readonly reason: string; readonly transient: boolean };

/**
 * Turns the email's Constant Contact tracking links (`*.rs6.net/tn.jsp?...`, which identify the
 * subscriber) into the public addresses they redirect to, so that a post never carries them.
 *
 * Each link is followed by hand (`redirect: 'manual'`) with GET — Constant Contact answers GET with
 * a 302 — hop by hop, up to `maxHops`, within `timeoutMs` for the whole chain. No cookie is ever
 * sent: undici's fetch keeps no cookie jar and we never copy `Set-Cookie` back. Bodies are not read
 * (except a tracking host's 200 page, for a meta refresh) and are cancelled to free the socket.
 *
 * A link resolves when its chain ends off the tracking hosts; the final URL loses its tracking
 * parameters (utm_*, mc_*, _hsenc, …). If a public site refuses us (403 from bot protection) or
 * times out after the tracking host has already sent us there, its address is still the answer.
 * Otherwise the full-report link falls back to ISW's own URL for the product and date
 * ({@link iswReportUrl}) and other links are left out. `resolve` never throws for a bad link.
 */
export class LinkResolver {
  private readonly timeoutMs: number;
  private readonly maxHops: number;
  private readonly fetch: typeof globalThis.fetch;
  private readonly cache: Map<string, string | null>;
  private readonly maxCacheEntries: number;
  private readonly concurrency: number;
  private readonly followRedirects: boolean;
  private readonly logger: Logger | undefined;
  private readonly inFlight = new Map<string, Promise<Outcome>>();

  constructor(options: LinkResolverOptions) {
    this.timeoutMs = options.timeoutMs;
    this.maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.cache = options.cache ?? new Map<string, string | null>();
    this.maxCacheEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.followRedirects = options.followRedirects ?? true;
    this.logger = options.logger?.child({ component: 'link-resolver' });
  }

  /**
   * The report's links as they may be published, in the email's order. When the email has no
   * full-report link at all but the product has a known address on ISW's site, that address is
   * added at the end (every ISW post should point to its report).
   */
  async resolve(links: readonly ReportLink[], ctx: LinkContext): Promise<ResolvedLink[]> {
    const outcomes = await mapLimited(links, this.concurrency, (link) => this.resolveUrl(link.url));
    const fallback = iswReportUrl(ctx.product, ctx.publishedAt);
    const resolved: ResolvedLink[] = [];
    links.forEach((link, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok === true) {
        resolved.push({ kind: link.kind, text: link.text, url: outcome.url, resolvedBy: 'redirect' });
        return;
      }
      const reason = outcome?.ok === false ? outcome.reason : 'not resolved';
      if (link.kind === 'full-report' && fallback !== null) {
        this.logger?.info(
          { kind: link.kind, reason, host: hostOf(link.url) },
          'link not resolved; using ISW URL',
        );
        resolved.push({ kind: link.kind, text: link.text, url: fallback, resolvedBy: 'fallback' });
      } else {
        this.logger?.info({ kind: link.kind, reason, host: hostOf(link.url) }, 'link not resolved; left out');
      }
    });
    if (fallback !== null && !links.some((l) => l.kind === 'full-report')) {
      resolved.push({
        kind: 'full-report',
        text: FALLBACK_FULL_REPORT_TEXT,
        url: fallback,
        resolvedBy: 'fallback',
      });
    }
    return resolved;
  }

  /** One URL through the cache: the public target or why not. Never rejects. */
  private async resolveUrl(url: string): Promise<Outcome> {
    // Without the network nothing is learnt about a link: keep a shared cache free of such guesses.
    if (!this.followRedirects) return this.follow(url);
    const cached = this.cache.get(url);
    if (cached !== undefined) {
      return cached === null
        ? { ok: false, reason: 'known not to resolve (cached)', transient: false }
        : { ok: true, url: cached, hops: 0 };
    }
    const pending = this.inFlight.get(url);
    if (pending !== undefined) return pending;
    const attempt = this.follow(url)
      .catch((err: unknown): Outcome => {
        // follow() handles every failure it expects; anything else is a bug, but one bad link must
        // not fail the post: report it loudly and leave the link out.
        this.logger?.error({ err, host: hostOf(url) }, 'unexpected error resolving a link');
        return { ok: false, reason: 'unexpected error', transient: true };
      })
      .then((outcome) => {
        if (outcome.ok || !outcome.transient) this.remember(url, outcome.ok ? outcome.url : null);
        return outcome;
      })
      .finally(() => this.inFlight.delete(url));
    this.inFlight.set(url, attempt);
    return attempt;
  }

  private remember(url: string, target: string | null): void {
    this.cache.delete(url);
    this.cache.set(url, target);
    // Map iteration is insertion order: the first keys are the oldest.
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= this.maxCacheEntries) break;
      this.cache.delete(oldest);
    }
  }

  private async follow(start: string): Promise<Outcome> {
    let current = URL.parse(start);
    if (current === null || !isHttp(current)) {
      return { ok: false, reason: 'not an http(s) URL', transient: false };
    }
    if (!this.followRedirects) return this.finish(current, 0);

    // The first address off the tracking hosts: where the sender meant the reader to go. Used when
    // the public site then misbehaves for a client without cookies (a redirect loop, say).
    let firstPublic: URL | null = isTrackingHost(current.hostname) ? null : current;
    const giveUp = (reason: string, hops: number): Outcome =>
      firstPublic === null ? { ok: false, reason, transient: false } : this.finish(firstPublic, hops);

    const signal = AbortSignal.timeout(this.timeoutMs);
    const seen = new Set<string>();
    for (let hops = 0; ; hops++) {
      if (seen.has(current.href)) return giveUp('redirect loop', hops);
      seen.add(current.href);

      let response: Response;
      try {
        response = await this.fetch(current.href, {
          method: 'GET',
          redirect: 'manual',
          credentials: 'omit',
          signal,
          headers: { 'user-agent': USER_AGENT, accept: 'text/html,*/*;q=0.5' },
        });
      } catch (err) {
        return this.failedRequest(current, hops, signal, err);
      }

      let next: URL | null = null;
      try {
        if (REDIRECT_STATUSES.has(response.status)) {
          const location = response.headers.get('location');
          next = location === null ? null : URL.parse(location, current.href);
          if (location !== null && (next === null || !isHttp(next))) {
            return giveUp('redirect to a non-http(s) location', hops);
          }
        } else if (response.ok && isTrackingHost(current.hostname)) {
          next = metaRefresh(await readHead(response), current);
        }
      } catch (err) {
        return this.failedRequest(current, hops, signal, err);
      } finally {
        await this.discard(response);
      }

      if (next === null && isTrackingHost(current.hostname) && isServerTrouble(response.status)) {
        return { ok: false, reason: `the tracking host answered ${response.status}`, transient: true };
      }
      // Any other answer (200, or a 403/404 from a site that blocks bots) ends the chain here.
      if (next === null) return this.finish(current, hops);
      if (hops + 1 > this.maxHops) return giveUp(`more than ${this.maxHops} redirects`, hops);
      current = next;
      if (firstPublic === null && !isTrackingHost(current.hostname)) firstPublic = current;
    }
  }

  /**
   * A request that failed or timed out. Off the tracking hosts, the address is already known (the
   * tracking host sent us there, or the email linked it directly), so a slow site does not lose it;
   * on a tracking host the target is unknown and the failure is transient (not cached).
   */
  private failedRequest(current: URL, hops: number, signal: AbortSignal, err: unknown): Outcome {
    if (!isTrackingHost(current.hostname)) return this.finish(current, hops);
    const timedOut = signal.aborted;
    this.logger?.debug({ err, host: current.hostname, hops, timedOut }, 'tracking link request failed');
    return {
      ok: false,
      reason: timedOut ? `timed out after ${this.timeoutMs} ms` : 'request failed',
      transient: true,
    };
  }

  /** Free the connection without downloading the rest of the body. */
  private async discard(response: Response): Promise<void> {
    if (response.body === null || response.body.locked) return;
    await response.body.cancel().catch((err: unknown) => {
      // A body that already errored (aborted by the timeout) rejects cancel(); nothing is left to free.
      this.logger?.debug({ err }, 'cancelling a response body failed');
    });
  }

  private finish(url: URL, hops: number): Outcome {
    if (isTrackingHost(url.hostname)) {
      return { ok: false, reason: `ends on the tracking host ${url.hostname}`, transient: false };
    }
    const clean = cleanPublicUrl(url);
    if (clean === null) return { ok: false, reason: 'target carries personal data', transient: false };
    return { ok: true, url: clean, hops };
  }
}

/** Run `fn` over `items` with at most `limit` at a time; results in input order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The first bytes of a body, for a meta refresh; the rest is never downloaded. */
async function readHead(response: Response): Promise<string> {
  if (response.body === null) return '';
  // undici's body is a byte stream; the DOM typings leave its chunk type open.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < META_REFRESH_SCAN_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `<meta http-equiv="refresh" content="0; url=…">` (HTML §4.2.5.3), resolved against the page. */
function metaRefresh(html: string, base: URL): URL | null {
  const tag = /<meta\b[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*>/i.exec(html)?.[0];
  if (tag === undefined) return null;
  const content = /content\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag);
  const value = content?.[1] ?? content?.[2] ?? '';
  const target = /url\s*=\s*['"]?([^'"\s]+)/i.exec(value)?.[1];
  if (target === undefined) return null;
  const url = URL.parse(target.replace(/&amp;/g, '&'), base.href);
  return url !== null && isHttp(url) ? url : null;
}

function isServerTrouble(status: number): boolean {
  return status >= 500 || status === 429;
}

function isHttp(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

function hostOf(url: string): string | null {
  return URL.parse(url)?.hostname ?? null;
}
