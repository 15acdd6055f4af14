// The notify settings slice: defaults, the List-Unsubscribe mailto (advertised only when IMAP reads it), the development token key kept under DATA_DIR, production refusals.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/index.js';
import { DEV_SECRET_FILE, resolveNotifySettings } from '../../src/notify/notify-settings.js';
import { createLogger } from '../../src/shared/logger.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'isw-ko-notify-settings-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('resolveNotifySettings', () => {
  it('fills the defaults: outbox under DATA_DIR, 08:00 Asia/Seoul, no mailto', async () => {
    const dir = tempDir();
    const s = await resolveNotifySettings(loadEnv({ env: { DATA_DIR: dir }, envFile: null }));
    expect(s).toMatchObject({
      smtpUrl: null,
      from: { name: 'ISW 브리핑', address: 'isw-ko@localhost' },
      outboxDir: path.join(dir, 'outbox'),
      publicBaseUrl: 'http://127.0.0.1:8787',
      unsubscribeMailto: null,
      digestTime: { hour: 8, minute: 0 },
      digestTimeZone: 'Asia/Seoul',
      bounceLimit: 3,
      ratePerSecond: 10,
      poolSize: 5,
    });
  });

  it('advertises UNSUBSCRIBE_MAILTO only with an IMAP mailbox to read it, warning when there is none', async () => {
    const dir = tempDir();
    const warnings: { msg: string; unsubscribeMailto?: string }[] = [];
    const logger = createLogger(
      { level: 'warn', format: 'json' },
      { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string }) },
    );
    const resolve = (vars: Record<string, string>) =>
      resolveNotifySettings(
        loadEnv({ env: { DATA_DIR: dir, TOKEN_SECRET: 'x'.repeat(40), ...vars }, envFile: null }),
        logger,
      );
    const imap = { IMAP_HOST: 'imap.example.org', IMAP_USER: 'isw@example.org', IMAP_PASSWORD: 'pw' };

    expect((await resolve({ ...imap, UNSUBSCRIBE_MAILTO: 'isw+unsub@example.org' })).unsubscribeMailto).toBe(
      'isw+unsub@example.org',
    );
    // IMAP without the variable: MAIL_FROM is not read by the watcher, so it is not a default.
    expect(
      (await resolve({ ...imap, MAIL_FROM: 'ISW 브리핑 <briefing@example.org>' })).unsubscribeMailto,
    ).toBeNull();
    expect(warnings).toEqual([]);

    // The drop folder reads no mail: not advertised, and said so once at start-up.
    expect((await resolve({ UNSUBSCRIBE_MAILTO: 'isw+unsub@example.org' })).unsubscribeMailto).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ unsubscribeMailto: 'isw+unsub@example.org' });
    expect(warnings[0]?.msg).toContain('IMAP_HOST is not');
  });

  it('generates a development key once (mode 0600) and reuses it', async () => {
    const dir = tempDir();
    const env = loadEnv({ env: { DATA_DIR: dir }, envFile: null });
    const first = await resolveNotifySettings(env);
    const second = await resolveNotifySettings(env);
    expect(first.tokenSecret.length).toBeGreaterThanOrEqual(32);
    expect(second.tokenSecret).toBe(first.tokenSecret);
    const file = path.join(dir, DEV_SECRET_FILE);
    expect(readFileSync(file, 'utf8')).toBe(first.tokenSecret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('uses TOKEN_SECRET when set, and refuses production without it or without https links', async () => {
    const dir = tempDir();
    const secret = 'x'.repeat(40);
    expect(
      (await resolveNotifySettings(loadEnv({ env: { DATA_DIR: dir, TOKEN_SECRET: secret }, envFile: null })))
        .tokenSecret,
    ).toBe(secret);
    // loadEnv refuses both at start-up (tests/unit/config.test.ts); an Env built by hand that
    // skipped it is still refused here.
    const dev = loadEnv({ env: { DATA_DIR: dir }, envFile: null });
    await expect(
      resolveNotifySettings({ ...dev, NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://isw.example.org' }),
    ).rejects.toMatchObject({ code: 'SECRET_MISSING' });
    await expect(
      resolveNotifySettings({ ...dev, NODE_ENV: 'production', TOKEN_SECRET: secret }),
    ).rejects.toMatchObject({ code: 'SETTINGS_INVALID' });
  });

  it('rejects bad mail settings at load time, all at once', () => {
    expect(() =>
      loadEnv({
        env: {
          DIGEST_TIME: '8am',
          DIGEST_TIME_ZONE: 'Mars/Olympus',
          SMTP_URL: 'http://x',
          TOKEN_SECRET: 'short',
        },
        envFile: null,
      }),
    ).toThrow(/DIGEST_TIME[\s\S]*DIGEST_TIME_ZONE|DIGEST_TIME_ZONE[\s\S]*DIGEST_TIME/);
  });
});
