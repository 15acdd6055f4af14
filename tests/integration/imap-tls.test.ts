// Covers IMAP over TLS against the test Dovecot with a certificate from its own CA: implicit TLS (993-style) and STARTTLS (143-style) with IMAP_CA_FILE, an untrusted certificate refused with the setting to fix, implicit TLS on a plain port explained, and the watcher delivering over TLS.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../src/config/index.js';
import { checkImap, ImapWatcher, imapSettingsFrom } from '../../src/inbox/index.js';
import type { ImapSettings } from '../../src/inbox/imap-settings.js';
import { iswMessage } from '../support/dkim.js';
import { ISW_UNVERIFIED, startTestDovecot, waitUntil, type TestDovecot } from '../support/dovecot.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let dovecot: TestDovecot;
let redisServer: TestRedis;
let ca: string;

beforeAll(async () => {
  [dovecot, redisServer] = await Promise.all([startTestDovecot({ tls: true }), startTestRedis()]);
  ca = readFileSync(dovecot.caFile ?? '', 'utf8');
});
afterAll(async () => {
  await Promise.all([dovecot.close(), redisServer.close()]);
});

function implicit(overrides: Partial<ImapSettings> = {}): ImapSettings {
  return dovecot.settings({ port: dovecot.tlsPort ?? 0, tls: 'implicit', ca, ...overrides });
}

describe('IMAP over TLS', () => {
  it('logs in over implicit TLS and over STARTTLS when IMAP_CA_FILE names the server’s CA', async () => {
    const overTls = await checkImap(implicit());
    expect(overTls.ok, overTls.message).toBe(true);
    const upgraded = await checkImap(dovecot.settings({ tls: 'starttls', ca }));
    expect(upgraded.ok, upgraded.message).toBe(true);
  });

  it('refuses a certificate it cannot trust, and says to set IMAP_CA_FILE', async () => {
    const untrusted = await checkImap(implicit({ ca: null }));
    expect(untrusted.ok).toBe(false);
    expect(untrusted.details).toMatchObject({ code: 'IMAP_TLS' });
    expect(untrusted.hint).toContain('IMAP_CA_FILE');
    const upgraded = await checkImap(dovecot.settings({ tls: 'starttls', ca: null }));
    expect(upgraded.ok).toBe(false);
    expect(upgraded.hint).toContain('IMAP_CA_FILE');
  });

  it('explains implicit TLS sent to a plain port', async () => {
    const wrongPort = await checkImap(dovecot.settings({ tls: 'implicit', ca }), { timeoutMs: 5_000 });
    expect(wrongPort.ok).toBe(false);
    expect(wrongPort.details).toMatchObject({ code: 'IMAP_TLS' });
    expect(wrongPort.hint).toContain('IMAP_TLS=starttls');
  });

  it('watches the mailbox over TLS', async () => {
    const redis = new Redis(redisServer.url);
    const mailbox = await dovecot.freshMailbox('tls');
    const delivered: string[] = [];
    const w = new ImapWatcher({
      settings: implicit({ mailbox }),
      policy: ISW_UNVERIFIED,
      redis,
      prefix: freshPrefix('tls'),
      logger: pino({ level: 'silent' }),
      deliver: (_raw, ref) => {
        delivered.push(ref);
        return Promise.resolve();
      },
    });
    try {
      await w.start();
      await waitUntil(() => w.status().connected, 10_000, 'the TLS connection');
      await dovecot.append(mailbox, iswMessage());
      await waitUntil(() => delivered.length === 1, 5_000, 'the message');
    } finally {
      await w.close();
      await redis.quit();
    }
  });
});

describe('IMAP_CA_FILE', () => {
  const base = { IMAP_HOST: '127.0.0.1', IMAP_USER: 'isw', IMAP_PASSWORD: 'pw', IMAP_TLS: 'implicit' };

  it('is read at start-up; a missing file or one without a certificate is a configuration error', () => {
    const file = dovecot.caFile ?? '';
    expect(imapSettingsFrom(loadEnv({ env: { ...base, IMAP_CA_FILE: file }, envFile: null }))?.ca).toBe(ca);
    const missing = (): unknown =>
      imapSettingsFrom(loadEnv({ env: { ...base, IMAP_CA_FILE: '/nonexistent/ca.pem' }, envFile: null }));
    expect(missing).toThrow(ConfigError);
    expect(missing).toThrow(/IMAP_CA_FILE[\s\S]*cannot read \/nonexistent\/ca\.pem/);
    const notPem = path.join(dovecot.dir, 'not-a-cert.txt');
    writeFileSync(notPem, 'hello\n');
    expect(() =>
      imapSettingsFrom(loadEnv({ env: { ...base, IMAP_CA_FILE: notPem }, envFile: null })),
    ).toThrow(/holds no PEM certificate/);
  });
});
