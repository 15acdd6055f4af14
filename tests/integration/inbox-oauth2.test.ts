// Covers OAuth2 refresh-token login for IMAP: access tokens from a real (loopback) token endpoint, cached until near expiry, shared by concurrent callers, refreshed after a refusal; a rotated refresh token kept in Redis for the next process; a revoked grant, a wrong secret and a provider outage told apart.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/index.js';
import {
  accessTokenProviderFor,
  imapSettingsFrom,
  InboxError,
  OAuth2TokenSource,
  type OAuth2Settings,
} from '../../src/inbox/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { startTestOAuthServer, type TestOAuthServer } from '../support/oauth-server.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

const logger = createLogger({ level: 'silent', format: 'json' });
let redisServer: TestRedis;
let redis: Redis;
let oauth: TestOAuthServer;

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = new Redis(redisServer.url);
});
afterAll(async () => {
  await redis.quit();
  await redisServer.close();
});
beforeEach(async () => {
  oauth = await startTestOAuthServer();
});
afterEach(async () => {
  await oauth.close();
});

function settings(overrides: Partial<OAuth2Settings> = {}): OAuth2Settings {
  return {
    tokenUrl: oauth.tokenUrl,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    refreshToken: oauth.refreshToken,
    scope: null,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<InboxError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(err instanceof InboxError)) throw err;
  return err;
}

describe('OAuth2TokenSource', () => {
  it('refreshes once, caches the token until a minute before it expires, and refreshes again when told', async () => {
    let now = 1_000_000;
    const source = new OAuth2TokenSource({
      settings: settings({ scope: 'https://mail.google.com/' }),
      logger,
      now: () => now,
    });
    const first = await source.token();
    expect(first).toBe(oauth.issued[0]);
    expect(oauth.tokenRequests[0]?.form).toEqual({
      grant_type: 'refresh_token',
      refresh_token: oauth.refreshToken,
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
      scope: 'https://mail.google.com/',
    });
    now += 3600_000 - 61_000; // 61 s left: still good
    expect(await source.token()).toBe(first);
    expect(oauth.tokenRequests).toHaveLength(1);
    now += 2_000; // 59 s left: refreshed
    const second = await source.token();
    expect(second).not.toBe(first);
    // After the server refused a token: a fresh one, whatever the cache says.
    const third = await source.token({ fresh: true });
    expect(third).not.toBe(second);
    expect(oauth.tokenRequests).toHaveLength(3);
  });

  it('asks the endpoint once for any number of callers at the same time', async () => {
    const source = new OAuth2TokenSource({ settings: settings(), logger });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => source.token()));
    expect(new Set(tokens).size).toBe(1);
    expect(oauth.tokenRequests).toHaveLength(1);
  });

  it('keeps a rotated refresh token in Redis, so the next process uses it and not the revoked one', async () => {
    oauth.rotate = true;
    const prefix = freshPrefix('oauth');
    const configured = settings();
    const first = new OAuth2TokenSource({ settings: configured, logger, redis, prefix });
    await first.token();
    expect(oauth.refreshToken).not.toBe(configured.refreshToken); // the original is revoked now
    await first.token({ fresh: true }); // and rotates again
    const next = new OAuth2TokenSource({ settings: configured, logger, redis, prefix });
    expect(await next.token()).toBe(oauth.issued[2]);
    expect(oauth.tokenRequests.map((r) => r.form['refresh_token'])).not.toContain(undefined);
    // A new consent in the environment starts afresh (its own key).
    const fresh = new OAuth2TokenSource({
      settings: { ...configured, refreshToken: oauth.refreshToken },
      logger,
      redis,
      prefix,
    });
    await fresh.token();
    expect(oauth.tokenRequests).toHaveLength(4);
  });

  it('tells a revoked grant and a wrong secret (user errors) from an outage (operational)', async () => {
    const granted = settings();
    oauth.revokeRefreshToken();
    const revoked = await failure(new OAuth2TokenSource({ settings: granted, logger }).token());
    expect(revoked).toMatchObject({ code: 'IMAP_AUTH', kind: 'user' });
    expect(revoked.message).toContain('invalid_grant');
    expect(revoked.hint).toContain('IMAP_OAUTH_REFRESH_TOKEN');

    const wrong = await failure(
      new OAuth2TokenSource({ settings: settings({ clientSecret: 'nope' }), logger }).token(),
    );
    expect(wrong).toMatchObject({ code: 'IMAP_AUTH', kind: 'user' });
    expect(wrong.hint).toContain('IMAP_OAUTH_CLIENT_SECRET');

    oauth.failNext(1, 503);
    const down = await failure(
      new OAuth2TokenSource({ settings: settings({ refreshToken: oauth.refreshToken }), logger }).token(),
    );
    expect(down).toMatchObject({ code: 'IMAP_AUTH', kind: 'operational' });

    const unreachable = await failure(
      new OAuth2TokenSource({
        settings: settings({ tokenUrl: 'http://127.0.0.1:9/token' }),
        logger,
        timeoutMs: 2_000,
      }).token(),
    );
    expect(unreachable).toMatchObject({ code: 'IMAP_AUTH', kind: 'operational' });
  });
});

describe('IMAP_OAUTH_* settings', () => {
  const base = { IMAP_HOST: 'imap.gmail.com', IMAP_USER: 'isw@example.org', IMAP_TLS: 'implicit' };

  it('make an OAuth2 login with a token provider; a password login has none', () => {
    const env = loadEnv({
      env: {
        ...base,
        IMAP_OAUTH_TOKEN_URL: 'https://oauth2.googleapis.com/token',
        IMAP_OAUTH_CLIENT_ID: 'id',
        IMAP_OAUTH_CLIENT_SECRET: 'secret',
        IMAP_OAUTH_REFRESH_TOKEN: '1//refresh',
      },
      envFile: null,
    });
    const imap = imapSettingsFrom(env);
    expect(imap?.auth).toEqual({
      user: 'isw@example.org',
      oauth2: {
        tokenUrl: 'https://oauth2.googleapis.com/token',
        clientId: 'id',
        clientSecret: 'secret',
        refreshToken: '1//refresh',
        scope: null,
      },
    });
    expect(imap === null ? undefined : accessTokenProviderFor(imap, { logger })).toBeTypeOf('function');
    const withPassword = imapSettingsFrom(loadEnv({ env: { ...base, IMAP_PASSWORD: 'pw' }, envFile: null }));
    expect(withPassword === null ? null : accessTokenProviderFor(withPassword, { logger })).toBeUndefined();
  });

  it('refuse a partial OAuth2 setup, and two ways to log in at once, naming the variables', () => {
    const partial = (): unknown =>
      imapSettingsFrom(
        loadEnv({
          env: { ...base, IMAP_OAUTH_TOKEN_URL: 'https://oauth2.googleapis.com/token' },
          envFile: null,
        }),
      );
    expect(partial).toThrow(
      /IMAP_OAUTH_CLIENT_ID[\s\S]*IMAP_OAUTH_CLIENT_SECRET[\s\S]*IMAP_OAUTH_REFRESH_TOKEN/,
    );
    const both = (): unknown =>
      imapSettingsFrom(
        loadEnv({
          env: {
            ...base,
            IMAP_PASSWORD: 'pw',
            IMAP_OAUTH_TOKEN_URL: 'https://oauth2.googleapis.com/token',
            IMAP_OAUTH_CLIENT_ID: 'id',
            IMAP_OAUTH_CLIENT_SECRET: 'secret',
            IMAP_OAUTH_REFRESH_TOKEN: '1//refresh',
          },
          envFile: null,
        }),
      );
    expect(both).toThrow(/IMAP_OAUTH_REFRESH_TOKEN[\s\S]*set together with IMAP_PASSWORD/);
  });
});
