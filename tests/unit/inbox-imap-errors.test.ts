// Covers the pure classification of IMAP/socket/TLS errors into InboxError codes with fix hints, and the reconnect backoff.
import { describe, expect, it } from 'vitest';
import { backoffFor, classifyImapError, reconnectDelay } from '../../src/inbox/imap-errors.js';
import { InboxError } from '../../src/inbox/inbox-error.js';

const SETTINGS = { host: 'imap.example.com', port: 993, tls: 'implicit' as const, mailbox: 'INBOX' };
const err = (fields: Record<string, unknown>, message = 'boom'): Error =>
  Object.assign(new Error(message), fields);

describe('classifyImapError', () => {
  it('tells a refused login (user error) from a server that asks to try later', () => {
    const refused = classifyImapError(
      err({
        authenticationFailed: true,
        serverResponseCode: 'AUTHENTICATIONFAILED',
        command: 'AUTHENTICATE',
      }),
      SETTINGS,
    );
    expect(refused).toMatchObject({ code: 'IMAP_AUTH', kind: 'user' });
    expect(refused.hint).toContain('app password');
    const later = classifyImapError(err({ serverResponseCode: 'UNAVAILABLE', command: 'LOGIN' }), SETTINGS);
    expect(later).toMatchObject({ code: 'IMAP_AUTH', kind: 'operational' });
  });

  it('names the setting to check for unreachable servers, TLS trouble, timeouts and missing folders', () => {
    expect(classifyImapError(err({ code: 'ENOTFOUND' }), SETTINGS)).toMatchObject({
      code: 'IMAP_CONNECT',
      kind: 'operational',
    });
    expect(classifyImapError(err({ code: 'ENOTFOUND' }), SETTINGS).hint).toContain('IMAP_HOST');
    expect(classifyImapError(err({ code: 'ECONNREFUSED' }), SETTINGS).hint).toContain('IMAP_PORT');
    const tls = classifyImapError(err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), SETTINGS);
    expect(tls).toMatchObject({ code: 'IMAP_TLS', kind: 'user' });
    expect(tls.hint).toContain('IMAP_TLS=starttls');
    const selfSigned = classifyImapError(err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), SETTINGS);
    expect(selfSigned.code).toBe('IMAP_TLS');
    expect(selfSigned.hint).toContain('IMAP_CA_FILE');
    expect(classifyImapError(err({ code: 'GREETING_TIMEOUT' }), SETTINGS).code).toBe('IMAP_TIMEOUT');
    const missing = classifyImapError(err({ mailboxMissing: true }), SETTINGS);
    expect(missing).toMatchObject({ code: 'IMAP_MAILBOX', kind: 'user' });
    expect(missing.hint).toContain('IMAP_MAILBOX');
  });

  it('keeps InboxErrors, and calls anything else a protocol error with the server’s text', () => {
    const own = new InboxError('IMAP_KEYWORD', 'user', 'no keywords');
    expect(classifyImapError(own, SETTINGS)).toBe(own);
    const other = classifyImapError(
      err({ responseText: 'Server is shutting down' }, 'Command failed'),
      SETTINGS,
    );
    expect(other).toMatchObject({ code: 'IMAP_PROTOCOL', kind: 'operational' });
    expect(other.message).toContain('Server is shutting down');
    expect(classifyImapError('a string', SETTINGS).code).toBe('IMAP_PROTOCOL');
  });
});

describe('reconnectDelay', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };

  it('doubles from the base up to the cap, with half of it random', () => {
    expect(reconnectDelay(0, policy, () => 0)).toBe(500);
    expect(reconnectDelay(0, policy, () => 1)).toBe(1_000);
    expect(reconnectDelay(3, policy, () => 1)).toBe(8_000);
    expect(reconnectDelay(50, policy, () => 1)).toBe(60_000);
    expect(reconnectDelay(50, policy, () => 0)).toBe(30_000);
  });

  it('backs off slowly after configuration errors (providers lock accounts after repeated bad logins)', () => {
    const fast = { baseMs: 1, maxMs: 2 };
    const slow = { baseMs: 3, maxMs: 4 };
    expect(backoffFor(null, fast, slow)).toBe(fast);
    expect(backoffFor(new InboxError('IMAP_CONNECT', 'operational', 'x'), fast, slow)).toBe(fast);
    expect(backoffFor(new InboxError('IMAP_AUTH', 'user', 'x'), fast, slow)).toBe(slow);
    expect(backoffFor(new InboxError('IMAP_AUTH', 'operational', 'x'), fast, slow)).toBe(fast);
    expect(backoffFor(new InboxError('IMAP_TLS', 'user', 'x'), fast, slow)).toBe(slow);
  });
});
