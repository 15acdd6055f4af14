// Covers the IMAP and sender settings: drop-folder mode without IMAP_HOST, defaults, cross-variable problems reported together, secrets hidden, start-up warnings, the mailbox id.
import { describe, expect, it } from 'vitest';
import { ConfigError, describeEnv, loadEnv, secretValues } from '../../src/config/index.js';
import {
  describeImap,
  imapSettingsFrom,
  mailboxIdOf,
  parseProcessed,
  senderPolicyFrom,
  settingsWarnings,
} from '../../src/inbox/imap-settings.js';

const env = (vars: Record<string, string>): ReturnType<typeof loadEnv> =>
  loadEnv({ env: vars, envFile: null });

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.variable).sort();
    throw err;
  }
  return [];
}

describe('imapSettingsFrom', () => {
  it('is null without IMAP_HOST: the drop folder stays the inbox', () => {
    expect(imapSettingsFrom(env({}))).toBeNull();
  });

  it('fills the defaults: implicit TLS on 993, INBOX, a keyword, IDLE, 30 s poll, 36 h watchdog', () => {
    const s = imapSettingsFrom(
      env({ IMAP_HOST: 'imap.gmail.com', IMAP_USER: 'me@gmail.com', IMAP_PASSWORD: 'app-pass-1234' }),
    );
    expect(s).toEqual({
      host: 'imap.gmail.com',
      port: 993,
      tls: 'implicit',
      ca: null,
      auth: { user: 'me@gmail.com', pass: 'app-pass-1234' },
      mailbox: 'INBOX',
      processed: { kind: 'flag', flag: 'IswKoProcessed' },
      idle: true,
      pollMs: 30_000,
      watchdogMs: 36 * 3_600_000,
    });
    expect(describeImap(s ?? expect.unreachable())).toBe(
      'me@gmail.com@imap.gmail.com:993/INBOX (implicit TLS)',
    );
  });

  it('uses 143 with STARTTLS, an OAuth2 token, and a move target', () => {
    const s = imapSettingsFrom(
      env({
        IMAP_HOST: 'outlook.office365.com',
        IMAP_TLS: 'starttls',
        IMAP_USER: 'me@example.com',
        IMAP_ACCESS_TOKEN: 'ya29.token-value',
        IMAP_PROCESSED: 'move:ISW/Processed',
        IMAP_IDLE: 'false',
      }),
    );
    expect(s).toMatchObject({
      port: 143,
      tls: 'starttls',
      auth: { user: 'me@example.com', accessToken: 'ya29.token-value' },
      processed: { kind: 'move', folder: 'ISW/Processed' },
      idle: false,
    });
  });

  it('reports every cross-variable problem at once', () => {
    expect(problems(() => imapSettingsFrom(env({ IMAP_HOST: 'h', IMAP_PROCESSED: 'move:inbox' })))).toEqual([
      'IMAP_PASSWORD',
      'IMAP_PROCESSED',
      'IMAP_USER',
    ]);
    expect(
      problems(() =>
        imapSettingsFrom(env({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'p', IMAP_ACCESS_TOKEN: 't' })),
      ),
    ).toEqual(['IMAP_ACCESS_TOKEN']);
  });

  it('rejects a keyword with spaces and a bad TLS mode while loading', () => {
    expect(problems(() => env({ IMAP_PROCESSED: 'flag:two words', IMAP_TLS: 'ssl' }))).toEqual([
      'IMAP_PROCESSED',
      'IMAP_TLS',
    ]);
    expect(parseProcessed('flag:\\Seen')).toEqual({ kind: 'flag', flag: '\\Seen' });
  });

  it('keeps the password and token secret', () => {
    const e = env({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_PASSWORD: 'hunter2-imap' });
    const t = env({ IMAP_HOST: 'h', IMAP_USER: 'u', IMAP_ACCESS_TOKEN: 'tok-123456' });
    expect(secretValues(e)).toContain('hunter2-imap');
    expect(secretValues(t)).toContain('tok-123456');
    const shown = describeEnv(e).find((r) => r.variable === 'IMAP_PASSWORD');
    expect(shown?.value).toBe('(set, hidden)');
  });

  it('is reported by loadEnv, and still refused here for an Env that skipped it', () => {
    expect(problems(() => env({ IMAP_HOST: 'h' }))).toEqual(['IMAP_PASSWORD', 'IMAP_USER']);
    // A hand-built Env (a script, a test) gets the same problems from the stage itself.
    const handMade = { ...env({}), IMAP_HOST: 'h', IMAP_PROCESSED: 'move:INBOX' };
    expect(problems(() => imapSettingsFrom(handMade))).toEqual([
      'IMAP_PASSWORD',
      'IMAP_PROCESSED',
      'IMAP_USER',
    ]);
    expect(problems(() => senderPolicyFrom({ ...env({}), SENDER_VERIFY: 'trust-header' }))).toEqual([
      'SENDER_TRUSTED_AUTHSERV',
    ]);
  });
});

describe('senderPolicyFrom', () => {
  it('defaults to verify with ISW’s domains and Constant Contact’s rewrite domain', () => {
    expect(senderPolicyFrom(env({}))).toEqual({
      mode: 'verify',
      allowlist: ['understandingwar.org', 'criticalthreats.org', 'criticalthreats@aei.org'],
      rewriteDomains: ['ccsend.com'],
      trustedForwarders: [],
      trustedAuthservIds: [],
    });
  });

  it('needs a trusted authserv-id for trust-header, and addresses for forwarders', () => {
    expect(
      problems(() =>
        senderPolicyFrom(
          env({
            SENDER_VERIFY: 'trust-header',
            SENDER_TRUSTED_FORWARDERS: 'not-an-address',
            SENDER_ALLOWLIST: 'a b',
          }),
        ),
      ),
    ).toEqual(['SENDER_ALLOWLIST', 'SENDER_TRUSTED_AUTHSERV', 'SENDER_TRUSTED_FORWARDERS']);
    const p = senderPolicyFrom(
      env({
        SENDER_VERIFY: 'trust-header',
        SENDER_TRUSTED_AUTHSERV: 'MX.Google.com',
        SENDER_TRUSTED_FORWARDERS: 'Ops@Example.kr',
      }),
    );
    expect(p).toMatchObject({ trustedAuthservIds: ['mx.google.com'], trustedForwarders: ['ops@example.kr'] });
  });
});

describe('settingsWarnings', () => {
  it('warns loudly about SENDER_VERIFY=off and cleartext IMAP to a remote host', () => {
    const s = imapSettingsFrom(
      env({ IMAP_HOST: 'mail.example.com', IMAP_TLS: 'none', IMAP_USER: 'u', IMAP_PASSWORD: 'p' }),
    );
    const warnings = settingsWarnings(s, senderPolicyFrom(env({ SENDER_VERIFY: 'off' })));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('DISABLED');
    expect(warnings[1]).toContain('unencrypted');
    const local = imapSettingsFrom(
      env({ IMAP_HOST: '127.0.0.1', IMAP_TLS: 'none', IMAP_USER: 'u', IMAP_PASSWORD: 'p' }),
    );
    expect(settingsWarnings(local, senderPolicyFrom(env({})))).toEqual([]);
  });
});

describe('mailboxIdOf', () => {
  it('is stable, treats INBOX case-insensitively (RFC 3501 §5.1) and differs per folder, user and host', () => {
    const base = { host: 'imap.example.com', port: 993, auth: { user: 'me', pass: 'x' }, mailbox: 'INBOX' };
    expect(mailboxIdOf(base)).toBe(
      mailboxIdOf({ ...base, mailbox: 'inbox', auth: { user: 'ME', pass: 'y' } }),
    );
    expect(mailboxIdOf(base)).not.toBe(mailboxIdOf({ ...base, mailbox: 'ISW' }));
    expect(mailboxIdOf(base)).not.toBe(mailboxIdOf({ ...base, host: 'imap.other.com' }));
    expect(mailboxIdOf({ ...base, mailbox: 'Isw' })).not.toBe(mailboxIdOf({ ...base, mailbox: 'ISW' }));
  });
});
