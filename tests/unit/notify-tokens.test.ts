// Signed confirm/unsubscribe tokens: round trip, bound to purpose and address, forged/tampered/expired rejected.
import { describe, expect, it } from 'vitest';
import { subscriberIdOf } from '../../src/notify/address.js';
import { isAppError } from '../../src/shared/app-error.js';
import {
  CONFIRM_TOKEN_MAX_AGE_MS,
  readToken,
  signToken,
  tokenFromUnsubscribeSubject,
  verifyToken,
} from '../../src/notify/tokens.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const ADDRESS = 'Reader@Example.org';
const ID = subscriberIdOf(ADDRESS.toLowerCase());
const NOW = Date.parse('2025-03-03T00:00:00Z');

function token(purpose: 'confirm' | 'unsubscribe', issuedAt = NOW / 1000, address = ADDRESS): string {
  return signToken({ purpose, subscriberId: ID, issuedAt }, address, SECRET);
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
}

describe('tokens', () => {
  it('verifies a token for its purpose and address (any case), and reads its claims', () => {
    const t = token('unsubscribe');
    expect(t).toMatch(/^v1\.u\.s[0-9a-f]{24}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(t, 'unsubscribe', 'reader@example.org', SECRET, { now: NOW })).toEqual({
      purpose: 'unsubscribe',
      subscriberId: ID,
      issuedAt: NOW / 1000,
    });
    expect(readToken(t)?.subscriberId).toBe(ID);
    // The address is not in the token: a token in a log or a Referer does not reveal it.
    expect(t.toLowerCase()).not.toContain('example');
  });

  it('rejects a token used for the other purpose', () => {
    expect(codeOf(() => verifyToken(token('unsubscribe'), 'confirm', ADDRESS, SECRET, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
    expect(codeOf(() => verifyToken(token('confirm'), 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
  });

  it('rejects a token checked against another address (cannot be reused for someone else)', () => {
    expect(
      codeOf(() =>
        verifyToken(token('unsubscribe'), 'unsubscribe', 'other@example.org', SECRET, { now: NOW }),
      ),
    ).toBe('TOKEN_INVALID');
  });

  it('rejects tampered tokens: another subscriber id, another time, a changed MAC, another secret', () => {
    const t = token('unsubscribe');
    const parts = t.split('.');
    const otherId = subscriberIdOf('other@example.org');
    const swappedId = [parts[0], parts[1], otherId, parts[3], parts[4]].join('.');
    expect(
      codeOf(() => verifyToken(swappedId, 'unsubscribe', 'other@example.org', SECRET, { now: NOW })),
    ).toBe('TOKEN_INVALID');
    const olderTime = [parts[0], parts[1], parts[2], (NOW / 1000 - 1).toString(36), parts[4]].join('.');
    expect(codeOf(() => verifyToken(olderTime, 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
    const mac = parts[4] ?? '';
    const flipped = [...parts.slice(0, 4), (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)].join('.');
    expect(codeOf(() => verifyToken(flipped, 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
    expect(codeOf(() => verifyToken(t, 'unsubscribe', ADDRESS, `${SECRET}x`, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
    const forged = signToken(
      { purpose: 'unsubscribe', subscriberId: ID, issuedAt: NOW / 1000 },
      ADDRESS,
      'guessed-secret-guessed-secret-0000',
    );
    expect(codeOf(() => verifyToken(forged, 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe(
      'TOKEN_INVALID',
    );
  });

  it('rejects malformed tokens without throwing anything else', () => {
    for (const bad of [
      '',
      'x',
      'v1.u',
      `${token('unsubscribe')}x`,
      token('unsubscribe').replace('v1', 'v2'),
      'v1.u.s00.1.abc',
    ]) {
      expect(codeOf(() => verifyToken(bad, 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe(
        'TOKEN_INVALID',
      );
      expect(readToken(bad)).toBeNull();
    }
  });

  it('expires confirm tokens after a week but never unsubscribe tokens', () => {
    const issued = NOW / 1000;
    const later = NOW + CONFIRM_TOKEN_MAX_AGE_MS + 1000;
    expect(
      codeOf(() => verifyToken(token('confirm', issued), 'confirm', ADDRESS, SECRET, { now: later })),
    ).toBe('TOKEN_EXPIRED');
    expect(
      codeOf(() => verifyToken(token('confirm', issued), 'confirm', ADDRESS, SECRET, { now: NOW + 1000 })),
    ).toBeNull();
    const yearsLater = NOW + 3 * 365 * 24 * 3600 * 1000;
    expect(
      codeOf(() =>
        verifyToken(token('unsubscribe', issued), 'unsubscribe', ADDRESS, SECRET, { now: yearsLater }),
      ),
    ).toBeNull();
  });

  it('rejects tokens issued in the future (beyond a minute of clock skew)', () => {
    const t = token('unsubscribe', NOW / 1000 + 3600);
    expect(codeOf(() => verifyToken(t, 'unsubscribe', ADDRESS, SECRET, { now: NOW }))).toBe('TOKEN_INVALID');
  });

  it('finds the token in the subject of a mail to the List-Unsubscribe mailto address', () => {
    const t = token('unsubscribe');
    expect(tokenFromUnsubscribeSubject(`Re: unsubscribe ${t}`)).toBe(t);
    expect(tokenFromUnsubscribeSubject('unsubscribe please')).toBeNull();
  });
});
