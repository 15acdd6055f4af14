import { load } from 'cheerio';
import { CookieJar } from 'tough-cookie';
import type { Logger } from '../../shared/logger.js';
import type { Fields } from './document-fields.js';
import { parseAnswer, type RhymixAnswer } from './rhymix-answer.js';
import { RhymixError } from './rhymix-error.js';
import type { RhymixFlavor } from './rhymix-settings.js';

export interface RhymixClientOptions {
  /** The site root (see `siteBaseUrl`). */
  readonly baseUrl: string;
  readonly mid: string;
  readonly flavor: RhymixFlavor;
  /** Timeout of one request, redirects included. */
  readonly timeoutMs: number;
  /** Injected by tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
}

/** An HTML page of the site. */
export interface SitePage {
  readonly status: number;
  readonly url: string;
  readonly html: string;
}

// Says who we are in the board's access log, so its admin can tell our requests apart.
const USER_AGENT = 'isw-ko/0.1 (ISW newsletter board publisher)';
// Redirects followed by hand so every hop's Set-Cookie lands in the jar (fetch would drop them).
const MAX_REDIRECTS = 5;
// Enough of an unexpected answer to recognise it in a log, never a whole page.
const SNIPPET_CHARS = 200;

/**
 * The wire protocol of a Rhymix/XE site (RHYMIX.md "Requests"), and nothing else: a cookie jar
 * that takes every Set-Cookie (PHPSESSID is regenerated after login and every 300 s, rx_autologin
 * on use), the CSRF token from the last page's `<meta name="csrf-token">`, and RPC POSTs to
 * `index.php` in the one format both Rhymix and XE 1.x answer in JSON. It never retries and never
 * decides what a refusal means: that is `RhymixBoard`'s job.
 */
export class RhymixClient {
  readonly baseUrl: string;
  readonly mid: string;
  readonly flavor: RhymixFlavor;
  readonly jar = new CookieJar();
  private token: string | null = null;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;

  constructor(options: RhymixClientOptions) {
    this.baseUrl = options.baseUrl;
    this.mid = options.mid;
    this.flavor = options.flavor;
    this.timeoutMs = options.timeoutMs;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.log = options.logger;
  }

  /** `{base}/index.php`: every action goes there. */
  get indexUrl(): string {
    return `${this.baseUrl}/index.php`;
  }

  /** `scheme://host[:port]` of the site, sent as Origin (Rhymix refuses POSTs without it or a Referer). */
  get origin(): string {
    return new URL(this.baseUrl).origin;
  }

  /** The board's own page, sent as Referer: XE 1.x checks only that its host is the site's. */
  get referer(): string {
    return `${this.indexUrl}?mid=${encodeURIComponent(this.mid)}`;
  }

  /** The CSRF token of the last page that had one; null before any page or on XE 1.x. */
  get csrfToken(): string | null {
    return this.token;
  }

  /** Forget the token and every cookie (a fresh visitor). */
  async reset(): Promise<void> {
    this.token = null;
    await this.jar.removeAllCookies();
  }

  /**
   * GET `index.php?{query}` as HTML, following redirects, keeping cookies, and taking the page's
   * CSRF token. 4xx pages are returned (the board shows its refusals as pages with 403/404);
   * 5xx, 429 and network failures throw `BOARD_UNAVAILABLE`.
   */
  async getPage(query: Readonly<Record<string, string>>): Promise<SitePage> {
    let url = `${this.indexUrl}?${new URLSearchParams(query).toString()}`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    for (let hop = 0; ; hop++) {
      const response = await this.send(url, 'GET', signal, {
        Accept: 'text/html,application/xhtml+xml',
        Referer: this.referer,
      });
      await this.keepCookies(response, url);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) {
          throw new RhymixError(
            'BOARD_MISCONFIGURED',
            `${this.indexUrl} redirects more than ${MAX_REDIRECTS} times`,
            {
              details: { url, location },
            },
          );
        }
        url = new URL(location, url).href;
        continue;
      }
      this.throwIfUnavailable(response, 'GET');
      const html = await response.text();
      const token = load(html)('meta[name="csrf-token"]').attr('content');
      if (token !== undefined && token !== '') this.token = token;
      return { status: response.status, url, html };
    }
  }

  /**
   * POST one action and read its JSON answer. Throws `BOARD_UNAVAILABLE` when the site cannot
   * answer (network, timeout, 5xx, 429) and `BOARD_MISCONFIGURED` when it answers but not as a
   * board (a redirect: the plain-form mode; HTML; 404). A refusal is an answer, not a throw:
   * check `error`.
   */
  async post(act: string, fields: Fields): Promise<RhymixAnswer> {
    // Content-Type application/json with a URL-encoded body is what XE's own exec_json sends:
    // the one request form that both Rhymix and XE 1.x answer in JSON (RHYMIX.md).
    const body = new URLSearchParams([['act', act], ...fields.map(([k, v]) => [k, v] as [string, string])]);
    const headers: Record<string, string> = {
      Accept: 'application/json, text/javascript, */*; q=0.01',
      'Content-Type': 'application/json; charset=UTF-8',
      'X-Requested-With': 'XMLHttpRequest',
      Origin: this.origin,
      Referer: this.referer,
    };
    if (this.token !== null) headers['X-CSRF-Token'] = this.token;
    const started = Date.now();
    const response = await this.send(
      this.indexUrl,
      'POST',
      AbortSignal.timeout(this.timeoutMs),
      headers,
      body,
    );
    await this.keepCookies(response, this.indexUrl);
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        `${this.indexUrl} answered ${act} with a redirect instead of JSON: it is not a Rhymix/XE index.php, or it ignored the JSON request`,
        { details: { act, httpStatus: response.status, location: response.headers.get('location') } },
      );
    }
    this.throwIfUnavailable(response, act);
    const text = await response.text();
    // The `error` field decides, whatever the status: some setups send refusals with a 4xx.
    const answer = parseAnswer(text);
    if (answer === null) {
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        `${this.indexUrl} answered ${act} with HTTP ${response.status} and no board JSON`,
        { details: { act, httpStatus: response.status, snippet: text.slice(0, SNIPPET_CHARS) } },
      );
    }
    this.log?.debug(
      { act, boardError: answer.error, errorDetail: answer.errorDetail, ms: Date.now() - started },
      'board answered',
    );
    return answer;
  }

  private async send(
    url: string,
    method: 'GET' | 'POST',
    signal: AbortSignal,
    headers: Record<string, string>,
    body?: URLSearchParams,
  ): Promise<Response> {
    const cookie = await this.jar.getCookieString(url);
    const all: Record<string, string> = { 'User-Agent': USER_AGENT, ...headers };
    if (cookie !== '') all['Cookie'] = cookie;
    try {
      return await this.fetch(url, {
        method,
        headers: all,
        redirect: 'manual',
        signal,
        ...(body === undefined ? {} : { body: body.toString() }),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new RhymixError(
        'BOARD_UNAVAILABLE',
        timedOut
          ? `${this.baseUrl} did not answer within ${this.timeoutMs} ms`
          : `${this.baseUrl} could not be reached: ${networkReason(err)}`,
        { cause: err, details: { method, timeoutMs: this.timeoutMs } },
      );
    }
  }

  private throwIfUnavailable(response: Response, what: string): void {
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      const retryAfter = response.headers.get('retry-after');
      throw new RhymixError(
        'BOARD_UNAVAILABLE',
        `${this.baseUrl} answered ${what} with HTTP ${response.status}`,
        {
          details: { act: what, httpStatus: response.status, ...(retryAfter === null ? {} : { retryAfter }) },
        },
      );
    }
  }

  private async keepCookies(response: Response, url: string): Promise<void> {
    for (const header of response.headers.getSetCookie()) {
      // A malformed or foreign-domain cookie is the site's problem, not a reason to fail the post.
      await this.jar.setCookie(header, url, { ignoreError: true });
    }
  }
}

/** The system error code behind a fetch failure (ECONNREFUSED…), or its message. */
function networkReason(err: unknown): string {
  if (err instanceof Error) {
    const cause: unknown = err.cause;
    if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string') {
      return cause.code;
    }
    return err.message;
  }
  return String(err);
}
