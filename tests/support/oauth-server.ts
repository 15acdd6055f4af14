import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OAuth2 authorization server of our own on loopback, speaking what Google's and Microsoft's
 * token endpoints speak for a refresh (RFC 6749 §6: `grant_type=refresh_token`, client id and
 * secret in the form or in HTTP Basic), plus token introspection (RFC 7662) for a Dovecot
 * `oauth2` passdb: so IMAP XOAUTH2 can be tested end to end without a real provider.
 */
export interface TestOAuthServer {
  readonly url: string;
  /** The token endpoint (POST). */
  readonly tokenUrl: string;
  /** The introspection endpoint (POST `token=…`), for Dovecot's `introspection_url`. */
  readonly introspectionUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The refresh token the server accepts now (changes when `rotate` is on). */
  readonly refreshToken: string;
  /** Lifetime of new access tokens, seconds (default 3600). */
  expiresIn: number;
  /** Give a new refresh token with every refresh, and revoke the old one (Microsoft does). */
  rotate: boolean;
  /** Every token request received, in order. */
  readonly tokenRequests: { readonly form: Record<string, string>; readonly basic: boolean }[];
  /** Access tokens handed out, in order. */
  readonly issued: string[];
  /** Make every access token handed out so far expire now (introspection says inactive). */
  expireAccessTokens(): void;
  /** Revoke the refresh token: the next refresh gets `invalid_grant` (consent withdrawn). */
  revokeRefreshToken(): void;
  /** Answer the next `n` token requests with this HTTP status (5xx: the provider is down). */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

export async function startTestOAuthServer(
  options: { readonly username?: string } = {},
): Promise<TestOAuthServer> {
  const username = options.username ?? 'isw@example.org';
  const clientId = `client-${randomBytes(4).toString('hex')}.apps.example`;
  const clientSecret = randomBytes(16).toString('hex');
  let refreshToken = `1//refresh-${randomBytes(12).toString('hex')}`;
  const accessTokens = new Map<string, number>(); // token → expiry (ms)
  let failures: { n: number; status: number } = { n: 0, status: 500 };

  const readForm = async (req: http.IncomingMessage): Promise<Record<string, string>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  };
  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const form = await readForm(req);
      if (req.method === 'POST' && req.url === '/token') {
        const basicHeader = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
        const [basicId, basicSecret] =
          basicHeader === undefined
            ? [undefined, undefined]
            : Buffer.from(basicHeader, 'base64').toString('utf8').split(':').map(decodeURIComponent);
        state.tokenRequests.push({ form, basic: basicHeader !== undefined });
        if (failures.n > 0) {
          failures = { ...failures, n: failures.n - 1 };
          json(res, failures.status, { error: 'temporarily_unavailable' });
          return;
        }
        const id = basicId ?? form['client_id'];
        const secret = basicSecret ?? form['client_secret'];
        if (id !== clientId || secret !== clientSecret) {
          json(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
          return;
        }
        if (form['grant_type'] !== 'refresh_token') {
          json(res, 400, { error: 'unsupported_grant_type' });
          return;
        }
        if (form['refresh_token'] !== refreshToken) {
          json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
          return;
        }
        const accessToken = `ya29.test-${randomBytes(16).toString('hex')}`;
        accessTokens.set(accessToken, Date.now() + state.expiresIn * 1000);
        state.issued.push(accessToken);
        const body: Record<string, unknown> = {
          access_token: accessToken,
          token_type: 'Bearer',
          expires_in: state.expiresIn,
          scope: form['scope'] ?? 'https://mail.google.com/',
        };
        if (state.rotate) {
          refreshToken = `1//refresh-${randomBytes(12).toString('hex')}`;
          body['refresh_token'] = refreshToken;
        }
        json(res, 200, body);
        return;
      }
      if (req.method === 'POST' && req.url === '/introspect') {
        const expiry = accessTokens.get(form['token'] ?? '');
        json(
          res,
          200,
          expiry !== undefined && expiry > Date.now()
            ? { active: true, username, scope: 'https://mail.google.com/', exp: Math.floor(expiry / 1000) }
            : { active: false },
        );
        return;
      }
      json(res, 404, { error: 'not_found' });
    })().catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const state: TestOAuthServer = {
    url,
    tokenUrl: `${url}/token`,
    introspectionUrl: `${url}/introspect`,
    clientId,
    clientSecret,
    get refreshToken() {
      return refreshToken;
    },
    expiresIn: 3600,
    rotate: false,
    tokenRequests: [],
    issued: [],
    expireAccessTokens: () => {
      for (const token of accessTokens.keys()) accessTokens.set(token, 0);
    },
    revokeRefreshToken: () => {
      refreshToken = `revoked-${randomBytes(8).toString('hex')}`;
    },
    failNext: (n, status) => {
      failures = { n, status };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  return state;
}
