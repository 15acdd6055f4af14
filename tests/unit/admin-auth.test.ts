// Covers the admin authentication pieces: constant-time secret comparison, bearer parsing, signed session cookies, CSRF tokens, the cookie and origin helpers.
import { describe, expect, it } from 'vitest';
import { readCookie, safeNext, sameOrigin, sessionCookie } from '../../src/admin/admin-routes.js';
import { bearerToken, secretsEqual, SessionAuth } from '../../src/admin/auth.js';

const SECRET = 'a-session-secret-of-enough-length-000000';

describe('secretsEqual', () => {
  it('is true only for the same string, whatever the lengths', () => {
    expect(secretsEqual('correct horse', 'correct horse')).toBe(true);
    expect(secretsEqual('correct hors', 'correct horse')).toBe(false);
    expect(secretsEqual('', 'correct horse')).toBe(false);
    expect(secretsEqual('Correct horse', 'correct horse')).toBe(false);
  });
});

describe('bearerToken', () => {
  it('reads RFC 6750 bearer tokens and nothing else', () => {
    expect(bearerToken('Bearer abc.DEF-123_~+/==')).toBe('abc.DEF-123_~+/==');
    expect(bearerToken('bearer   tok')).toBe('tok');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerToken('Bearer two words')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('SessionAuth', () => {
  let now = 1_000_000;
  const auth = (password = 'the admin password', secret = SECRET) =>
    new SessionAuth({ secret, password, ttlMs: 60_000, clock: () => now });

  it('verifies the cookies it issued until they expire', () => {
    const a = auth();
    const { cookie, session } = a.issue();
    expect(a.verify(cookie)).toEqual(session);
    now += 59_999;
    expect(a.verify(cookie)).toEqual(session);
    now += 1;
    expect(a.verify(cookie)).toBeNull();
  });

  it('refuses forged, altered and foreign cookies, and those of an old password', () => {
    const a = auth();
    const { cookie } = a.issue();
    const [v, expiry, id, mac] = cookie.split('.');
    expect(a.verify(`${v ?? ''}.${Number(expiry) + 3_600_000}.${id ?? ''}.${mac ?? ''}`)).toBeNull();
    expect(a.verify(`${v ?? ''}.${expiry ?? ''}.other.${mac ?? ''}`)).toBeNull();
    expect(a.verify(`${cookie}x`)).toBeNull();
    expect(a.verify('garbage')).toBeNull();
    expect(a.verify(undefined)).toBeNull();
    expect(auth('the admin password', `${SECRET}-other`).verify(cookie)).toBeNull();
    expect(auth('a new admin password').verify(cookie)).toBeNull();
  });

  it('binds CSRF tokens to one session', () => {
    const a = auth();
    const one = a.issue().session;
    const two = a.issue().session;
    expect(a.checkCsrf(one, a.csrfToken(one))).toBe(true);
    expect(a.checkCsrf(one, a.csrfToken(two))).toBe(false);
    expect(a.checkCsrf(one, undefined)).toBe(false);
    expect(a.checkCsrf(one, '')).toBe(false);
  });
});

describe('cookie and origin helpers', () => {
  it('reads one cookie out of a Cookie header', () => {
    expect(readCookie('a=1; isw_ko_admin=v1.2.3.4; b=2', 'isw_ko_admin')).toBe('v1.2.3.4');
    expect(readCookie('xisw_ko_admin=1', 'isw_ko_admin')).toBeUndefined();
    expect(readCookie(undefined, 'isw_ko_admin')).toBeUndefined();
  });

  it('writes a session cookie that scripts and other sites never get', () => {
    expect(sessionCookie('v', 60, false)).toBe(
      'isw_ko_admin=v; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60',
    );
    expect(sessionCookie('', 0, true)).toMatch(/Max-Age=0; Secure$/);
  });

  it('only sends a logged-in admin on to admin paths of this site', () => {
    expect(safeNext('/admin/reports/m1?notice=x')).toBe('/admin/reports/m1?notice=x');
    expect(safeNext('/admin')).toBe('/admin');
    for (const bad of [
      '//evil.example/admin',
      'https://evil.example/',
      '/adminx',
      '/admin/login',
      '/\\evil',
      '/subscribe',
    ]) {
      expect(safeNext(bad), bad).toBe('/admin/reports');
    }
  });

  it('tells our own pages from other sites', () => {
    const req = (headers: Record<string, string>) => ({ headers, host: '127.0.0.1:8787' });
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:8787' }))).toBe(true);
    expect(sameOrigin(req({ origin: 'https://evil.example' }))).toBe(false);
    expect(sameOrigin(req({ origin: 'null' }))).toBe(false);
    expect(sameOrigin(req({ 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(sameOrigin(req({ 'sec-fetch-site': 'same-origin' }))).toBe(true);
    // curl and other non-browser clients send neither; they cannot carry a victim's cookie.
    expect(sameOrigin(req({}))).toBe(true);
  });
});
