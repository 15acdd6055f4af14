import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import type { ImapSettings } from './imap-settings.js';
import { InboxError } from './inbox-error.js';

/** An OAuth2 client allowed to read the mailbox, with the refresh token its owner granted. */
export interface OAuth2Settings {
  /** The provider's token endpoint, e.g. https://oauth2.googleapis.com/token. */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** From the one-time consent (RFC 6749 §6); long-lived, may be rotated by the provider. */
  readonly refreshToken: string;
  /** Asked for on refresh when set (Microsoft wants `https://outlook.office.com/IMAP.AccessAsUser.All offline_access`). */
  readonly scope: string | null;
}

export interface OAuth2TokenSourceOptions {
  readonly settings: OAuth2Settings;
  readonly logger: Logger;
  /**
   * Where a rotated refresh token is kept (Microsoft hands out a new one with each refresh), so a
   * restart uses the newest; keyed by the configured token, so a new consent in the environment
   * starts afresh. Without Redis the rotated token lives in memory only.
   */
  readonly redis?: Redis;
  readonly prefix?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /** How long before its expiry an access token is refreshed anyway. */
  readonly marginMs?: number;
  readonly timeoutMs?: number;
}

interface CachedToken {
  readonly value: string;
  readonly expiresAt: number;
}

/**
 * Short-lived IMAP access tokens (XOAUTH2/OAUTHBEARER) from a refresh token: each connect asks
 * for one, and gets the cached token while it has more than a minute left, else a fresh one from
 * the token endpoint (one request at a time, however many ask). After the server refused a token,
 * `token({ fresh: true })` skips the cache.
 *
 * Errors are {@link InboxError}s `IMAP_AUTH`: `user` when the provider refused the grant or the
 * client (consent withdrawn, wrong secret — retrying cannot help), `operational` when it could
 * not be reached or answered 5xx (the watcher retries with backoff).
 */
export class OAuth2TokenSource {
  private cached: CachedToken | null = null;
  private inFlight: Promise<string> | null = null;
  private refreshToken: string | null = null;
  private readonly o: OAuth2TokenSourceOptions;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly key: string;

  constructor(options: OAuth2TokenSourceOptions) {
    this.o = options;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    const configured = createHash('sha256').update(options.settings.refreshToken).digest('hex').slice(0, 16);
    this.key = `${options.prefix ?? 'isw-ko'}:inbox:oauth2:refresh:${configured}`;
  }

  /** An access token with at least the margin left; a fresh one when `fresh` (after a refusal). */
  token(options: { readonly fresh?: boolean } = {}): Promise<string> {
    const margin = this.o.marginMs ?? 60_000;
    if (options.fresh !== true && this.cached !== null && this.cached.expiresAt - margin > this.now()) {
      return Promise.resolve(this.cached.value);
    }
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async currentRefreshToken(): Promise<string> {
    if (this.refreshToken !== null) return this.refreshToken;
    const stored = this.o.redis === undefined ? null : await this.o.redis.get(this.key);
    this.refreshToken = stored ?? this.o.settings.refreshToken;
    return this.refreshToken;
  }

  private async refresh(): Promise<string> {
    const s = this.o.settings;
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: await this.currentRefreshToken(),
      client_id: s.clientId,
      client_secret: s.clientSecret,
    });
    if (s.scope !== null) form.set('scope', s.scope);
    const started = this.now();
    let res: Response;
    try {
      res = await this.fetch(s.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new InboxError(
        'IMAP_AUTH',
        'operational',
        `the OAuth2 token endpoint ${s.tokenUrl} could not be reached`,
        {
          cause: err,
          hint: 'check IMAP_OAUTH_TOKEN_URL and the network; the watcher retries',
        },
      );
    }
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!res.ok || body === null || typeof body['access_token'] !== 'string') {
      const error = typeof body?.['error'] === 'string' ? body['error'] : `HTTP ${res.status}`;
      const description =
        typeof body?.['error_description'] === 'string' ? `: ${body['error_description']}` : '';
      // RFC 6749 §5.2: invalid_grant / invalid_client / unauthorized_client will not change by retrying.
      const permanent = res.status < 500 && res.status !== 429;
      throw new InboxError(
        'IMAP_AUTH',
        permanent ? 'user' : 'operational',
        `the OAuth2 token endpoint refused to refresh the IMAP access token (${error}${description})`,
        {
          details: { tokenUrl: s.tokenUrl, status: res.status, error },
          hint: permanent
            ? error === 'invalid_grant'
              ? 'the refresh token was revoked or has expired: sign in again to get a new one and set IMAP_OAUTH_REFRESH_TOKEN'
              : 'check IMAP_OAUTH_CLIENT_ID and IMAP_OAUTH_CLIENT_SECRET (the OAuth client must be allowed the mail scope)'
            : 'the provider is having trouble; the watcher retries',
        },
      );
    }
    const expiresIn =
      typeof body['expires_in'] === 'number' ? body['expires_in'] : Number(body['expires_in'] ?? 3600);
    this.cached = {
      value: body['access_token'],
      expiresAt: started + (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000,
    };
    const rotated = body['refresh_token'];
    if (typeof rotated === 'string' && rotated !== '' && rotated !== this.refreshToken) {
      this.refreshToken = rotated;
      await this.o.redis?.set(this.key, rotated);
      this.o.logger.info('the OAuth2 provider rotated the IMAP refresh token; the new one is kept');
    }
    this.o.logger.debug({ expiresIn }, 'IMAP access token refreshed');
    return this.cached.value;
  }
}

/** What the inbox asks for an access token on each connect; `fresh` after a refused login. */
export type AccessTokenProvider = (options?: { readonly fresh?: boolean }) => Promise<string>;

/**
 * The access-token provider for these IMAP settings, or undefined unless they log in with an
 * OAuth2 refresh token. One source per process, so its cached token is shared.
 */
export function accessTokenProviderFor(
  settings: ImapSettings,
  deps: Omit<OAuth2TokenSourceOptions, 'settings'>,
): AccessTokenProvider | undefined {
  if (!('oauth2' in settings.auth)) return undefined;
  const source = new OAuth2TokenSource({ ...deps, settings: settings.auth.oauth2 });
  return (options) => source.token(options);
}
