// IMAP login with an OAuth2 access token (SASL XOAUTH2 / OAUTHBEARER), as Gmail and Microsoft 365
// take it: the test Dovecot checks each token against our loopback OAuth server's RFC 7662
// introspection endpoint, so a token from a refresh grant logs in and an expired or made-up one
// is refused — the same answers a real provider gives.
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenProviderFor, checkImap, ImapWatcher } from '../../src/inbox/index.js';
import type { ImapSettings } from '../../src/inbox/imap-settings.js';
import { iswMessage } from '../support/dkim.js';
import { ISW_UNVERIFIED, startTestDovecot, waitUntil, type TestDovecot } from '../support/dovecot.js';
import { freshPrefix, startTestRedis } from '../support/redis.js';
import { startTestOAuthServer, type TestOAuthServer } from '../support/oauth-server.js';

let oauth: TestOAuthServer;
let dovecot: TestDovecot;
/** The same, offering XOAUTH2 only (as Microsoft's IMAP does), so imapflow must use it. */
let xoauth2Only: TestDovecot;

beforeAll(async () => {
  oauth = await startTestOAuthServer({ username: 'isw' });
  [dovecot, xoauth2Only] = await Promise.all([
    startTestDovecot({ oauth2: { introspectionUrl: oauth.introspectionUrl } }),
    startTestDovecot({ oauth2: { introspectionUrl: oauth.introspectionUrl, mechanisms: ['xoauth2'] } }),
  ]);
});

afterAll(async () => {
  await Promise.all([dovecot.close(), xoauth2Only.close()]);
  await oauth.close();
});

/** A refresh grant (RFC 6749 §6) at the token endpoint, as the bot will do: a fresh access token. */
async function accessToken(): Promise<string> {
  const res = await fetch(oauth.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: oauth.refreshToken,
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token?: unknown };
  if (typeof body.access_token !== 'string') throw new Error(`no access_token in ${JSON.stringify(body)}`);
  return body.access_token;
}

function client(server: TestDovecot, auth: { user: string; accessToken?: string; pass?: string }): ImapFlow {
  const c = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    doSTARTTLS: false,
    auth,
    logger: false,
    disableAutoIdle: true,
  });
  c.on('error', () => {
    // A refused login also closes the connection; connect() reports it.
  });
  return c;
}

/** The SASL mechanism of the next successful login of `user` Dovecot logs after offset `before`. */
function loggedLogin(server: TestDovecot, before: number, user = server.user): Promise<string> {
  return waitUntil(
    () => new RegExp(`Login: user=<${user}>, method=([A-Z0-9-]+)`).exec(server.log().slice(before))?.[1],
    5_000,
    `the login of ${user} in the Dovecot log`,
  );
}

/** Log in with the token, open INBOX, log out; returns the mechanism used, as Dovecot logged it. */
async function loginAndOpen(server: TestDovecot, token: string): Promise<string> {
  const before = server.log().length;
  const c = client(server, { user: server.user, accessToken: token });
  try {
    await c.connect();
    expect(c.authenticated).toBeTruthy();
    const box = await c.mailboxOpen('INBOX');
    expect(box.path).toBe('INBOX');
  } finally {
    await c.logout().catch(() => undefined);
  }
  return loggedLogin(server, before);
}

const NOT_ACTIVE = 'oauth2 failed: Introspection failed: Provided token is not valid';

/**
 * connect() must reject as a failed login (not a network error or a timeout), and Dovecot's log
 * (auth_verbose) must give `reason` for it: the refusal came from the introspection answer.
 */
async function expectRefused(
  server: TestDovecot,
  token: string,
  reason: string,
  user = server.user,
): Promise<void> {
  const before = server.log().length;
  const c = client(server, { user, accessToken: token });
  try {
    await expect(c.connect()).rejects.toMatchObject({ authenticationFailed: true });
  } finally {
    c.close();
  }
  await waitUntil(() => server.log().slice(before).includes(reason), 5_000, `"${reason}" in the Dovecot log`);
}

/**
 * A raw IMAP session: the greeting (which carries the pre-login CAPABILITY list), then, when
 * `mech` is given, one AUTHENTICATE tagged A1 with an initial response (SASL-IR, RFC 4959).
 * Returns the greeting and the server's tagged answer.
 */
async function rawSession(
  server: TestDovecot,
  auth?: { readonly mech: string; readonly payload: string },
): Promise<{ greeting: string; answer: string }> {
  const sock = net.connect(server.port, server.host);
  let buf = '';
  const lines: string[] = [];
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  });
  const next = async (match: (l: string) => boolean): Promise<string> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = lines.findIndex(match);
      if (found >= 0) return lines.splice(0, found + 1)[found] ?? '';
      if (Date.now() > deadline) throw new Error(`no answer from Dovecot; got ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    const greeting = await next((l) => l.startsWith('* OK'));
    if (auth === undefined) return { greeting, answer: '' };
    sock.write(`A1 AUTHENTICATE ${auth.mech} ${Buffer.from(auth.payload).toString('base64')}\r\n`);
    const first = await next((l) => l.startsWith('A1 ') || l.startsWith('+'));
    if (!first.startsWith('+')) return { greeting, answer: first };
    // A failed OAuth exchange first sends an error continuation; the client answers to end it.
    sock.write(auth.mech === 'OAUTHBEARER' ? 'AQ==\r\n' : '\r\n');
    return { greeting, answer: await next((l) => l.startsWith('A1 ')) };
  } finally {
    sock.destroy();
  }
}

const xoauth2 = (user: string, token: string): string => `user=${user}\x01auth=Bearer ${token}\x01\x01`;

describe('IMAP login with an OAuth2 access token', () => {
  it('advertises XOAUTH2 and OAUTHBEARER next to the password mechanisms', async () => {
    const caps = (s: string): string[] => s.split(/[\s[\]]+/).filter((w) => w.startsWith('AUTH='));
    expect(caps((await rawSession(dovecot)).greeting)).toEqual(
      expect.arrayContaining(['AUTH=PLAIN', 'AUTH=LOGIN', 'AUTH=XOAUTH2', 'AUTH=OAUTHBEARER']),
    );
    const only = caps((await rawSession(xoauth2Only)).greeting);
    expect(only).toContain('AUTH=XOAUTH2');
    expect(only).not.toContain('AUTH=OAUTHBEARER');
  });

  it('a token from the refresh grant logs in (OAUTHBEARER, which imapflow prefers) and opens INBOX', async () => {
    const token = await accessToken();
    expect(await loginAndOpen(dovecot, token)).toBe('OAUTHBEARER');
  });

  it('XOAUTH2 logs in too, where it is the only OAuth mechanism offered (Microsoft)', async () => {
    const token = await accessToken();
    expect(await loginAndOpen(xoauth2Only, token)).toBe('XOAUTH2');
  });

  it('XOAUTH2 on the server offering both: a live token passes, a dead one is refused', async () => {
    const token = await accessToken();
    const live = await rawSession(dovecot, { mech: 'XOAUTH2', payload: xoauth2(dovecot.user, token) });
    expect(live.answer).toMatch(/^A1 OK /);
    const dead = await rawSession(dovecot, {
      mech: 'XOAUTH2',
      payload: xoauth2(dovecot.user, 'ya29.made-up'),
    });
    expect(dead.answer).toMatch(/^A1 NO \[AUTHENTICATIONFAILED\]/);
  });

  it('a made-up token is refused as a failed login', async () => {
    await expectRefused(dovecot, 'ya29.made-up-token', NOT_ACTIVE);
    await expectRefused(xoauth2Only, 'ya29.made-up-token', NOT_ACTIVE);
  });

  it('a live token for another account is refused (the introspected username must match)', async () => {
    await expectRefused(
      dovecot,
      await accessToken(),
      "Introspection failed: Username 'someone-else' did not match 'isw'",
      'someone-else',
    );
  });

  it('an expired token is refused; a fresh one from the refresh token works again', async () => {
    const token = await accessToken();
    expect(await loginAndOpen(dovecot, token)).toBe('OAUTHBEARER');
    oauth.expireAccessTokens();
    await expectRefused(dovecot, token, NOT_ACTIVE);
    await expectRefused(xoauth2Only, token, NOT_ACTIVE);
    const fresh = await accessToken();
    expect(await loginAndOpen(dovecot, fresh)).toBe('OAUTHBEARER');
    expect(await loginAndOpen(xoauth2Only, fresh)).toBe('XOAUTH2');
  });

  it('the password still logs in, and a bearer token is no password', async () => {
    const before = dovecot.log().length;
    const c = client(dovecot, { user: dovecot.user, pass: dovecot.password });
    try {
      await c.connect();
      expect(c.authenticated).toBeTruthy();
    } finally {
      await c.logout().catch(() => undefined);
    }
    expect(await loggedLogin(dovecot, before)).toBe('PLAIN');
    await expect(
      (async () => {
        const p = client(dovecot, { user: dovecot.user, pass: await accessToken() });
        try {
          await p.connect();
        } finally {
          p.close();
        }
      })(),
    ).rejects.toMatchObject({ authenticationFailed: true });
    // Refused by the password file, not handed to the introspection endpoint.
    await waitUntil(
      () => dovecot.log().slice(before).includes('Password mismatch'),
      5_000,
      'the PLAIN refusal',
    );
  });
});

describe('ImapWatcher with IMAP_OAUTH_* (refresh-token login)', () => {
  it('logs in with a refreshed token, and after the server refuses its cached token gets a fresh one', async () => {
    const redisServer = await startTestRedis();
    const redis = new Redis(redisServer.url);
    const mailbox = await dovecot.freshMailbox('oauth-watch');
    const requestsAtStart = oauth.tokenRequests.length;
    const base = dovecot.settings({ mailbox });
    const settings: ImapSettings = {
      ...base,
      auth: {
        user: dovecot.user,
        oauth2: {
          tokenUrl: oauth.tokenUrl,
          clientId: oauth.clientId,
          clientSecret: oauth.clientSecret,
          refreshToken: oauth.refreshToken,
          scope: null,
        },
      },
    };
    const logger = pino({ level: 'silent' });
    const accessToken = accessTokenProviderFor(settings, { logger, redis, prefix: freshPrefix('oauth') });
    const delivered: string[] = [];
    const w = new ImapWatcher({
      settings,
      policy: ISW_UNVERIFIED,
      redis,
      prefix: freshPrefix('oauth-w'),
      logger,
      deliver: (_raw, ref) => {
        delivered.push(ref);
        return Promise.resolve();
      },
      ...(accessToken === undefined ? {} : { accessToken }),
      timing: { reconnectBaseMs: 100, reconnectMaxMs: 500, slowRetryBaseMs: 200, slowRetryMaxMs: 500 },
    });
    try {
      await w.start();
      // On a timeout, say where the watcher and Dovecot stood (a flake seen once in 6 runs).
      const until = async (check: () => boolean, ms: number, what: string): Promise<void> => {
        await waitUntil(check, ms, what).catch((err: unknown) => {
          throw new Error(
            `${String(err)}\nwatcher: ${JSON.stringify(w.status())}\ntoken requests: ${oauth.tokenRequests.length - requestsAtStart}\ndovecot log:\n${dovecot.log().slice(-3000)}`,
          );
        });
      };
      await until(() => w.status().connected, 20_000, 'the first OAuth2 login');
      await dovecot.append(mailbox, iswMessage());
      await until(() => delivered.length === 1, 10_000, 'the first message');
      const tokensBefore = oauth.tokenRequests.length;
      expect(tokensBefore).toBe(requestsAtStart + 1);

      // The provider expires the token early (revoked session, say) and the connection drops: the
      // cached token is refused once, then a fresh one logs in and mail flows again.
      oauth.expireAccessTokens();
      const refused = new Promise<void>((resolve) => {
        w.on('disconnected', ({ error }) => {
          if (error?.code === 'IMAP_AUTH') resolve();
        });
      });
      await dovecot.kill();
      await dovecot.start();
      let refusedSeen = false;
      void refused.then(() => (refusedSeen = true));
      await until(() => refusedSeen, 20_000, 'the refusal of the cached token');
      await until(() => w.status().connected, 20_000, 'the login with a fresh token');
      expect(oauth.tokenRequests.length).toBe(tokensBefore + 1);
      await dovecot.append(mailbox, iswMessage());
      await until(() => delivered.length === 2, 10_000, 'the second message');
    } finally {
      await w.close();
      await redis.quit();
      await redisServer.close();
    }
  }, 60_000);
});

describe('isw-ko doctor with IMAP_OAUTH_*', () => {
  it('logs in with a refreshed token, and names IMAP_OAUTH_REFRESH_TOKEN when the grant is revoked', async () => {
    const oauthSettings = {
      tokenUrl: oauth.tokenUrl,
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      refreshToken: oauth.refreshToken,
      scope: null,
    };
    const settings: ImapSettings = {
      ...dovecot.settings(),
      auth: { user: dovecot.user, oauth2: oauthSettings },
    };
    const logger = pino({ level: 'silent' });
    const accessToken = accessTokenProviderFor(settings, { logger });
    const ok = await checkImap(settings, accessToken === undefined ? {} : { accessToken });
    expect(ok.ok, ok.message).toBe(true);

    oauth.revokeRefreshToken();
    const revoked = accessTokenProviderFor(settings, { logger });
    const refused = await checkImap(settings, revoked === undefined ? {} : { accessToken: revoked });
    expect(refused.ok).toBe(false);
    expect(refused.message).toContain('invalid_grant');
    expect(refused.hint).toContain('IMAP_OAUTH_REFRESH_TOKEN');
  });
});
