// Covers config loading: defaults, .env, every problem reported at once (each variable's form, parts half configured, production requirements) in plain words with what it expects, secrets hidden.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeEnv, loadEnv, secretValues, SETTINGS } from '../../src/config/index.js';

describe('loadEnv', () => {
  it('gives the embedded defaults with an empty environment', () => {
    const env = loadEnv({ env: {}, envFile: null });
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.INBOX_DIR).toBe('inbox');
    expect(env.LOG_LEVEL).toBe('info');
    expect(env.ISW_SENDER_DOMAINS).toContain('understandingwar.org');
    expect(env.LLM_TIMEOUT_MS).toBe(120_000);
  });

  it('reports every bad variable at once, naming it and what it expects', () => {
    let error: unknown;
    try {
      loadEnv({
        env: { LOG_LEVEL: 'loud', REDIS_URL: 'http://nope', LLM_CONCURRENCY: 'many' },
        envFile: null,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.problems.map((p) => p.variable).sort()).toEqual(['LLM_CONCURRENCY', 'LOG_LEVEL', 'REDIS_URL']);
    expect(e.message).toContain('LOG_LEVEL');
    expect(e.message).toContain('one of fatal, error, warn, info, debug, trace, silent');
    expect(e.message).toContain('a redis:// or rediss:// URL');
  });

  /** The ConfigError loadEnv throws for `vars`. */
  function failure(vars: Record<string, string>): ConfigError {
    try {
      loadEnv({ env: vars, envFile: null });
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    return expect.unreachable(`loadEnv accepted ${JSON.stringify(vars)}`);
  }

  it('reports bad values, half-configured parts and production requirements in one error', () => {
    const e = failure({
      NODE_ENV: 'production',
      LOG_LEVEL: 'loud',
      ADMIN_LISTEN: 'nonsense',
      IMAP_HOST: 'imap.example.org',
      RHYMIX_URL: 'https://board.example.kr/',
      WEBHOOK_URL: 'https://hook.example/x',
    });
    // In the order of the settings (the README's), each once.
    expect(e.problems.map((p) => p.variable)).toEqual([
      'LOG_LEVEL',
      'IMAP_USER',
      'IMAP_PASSWORD',
      'RHYMIX_MID',
      'RHYMIX_USER',
      'RHYMIX_PASSWORD',
      'WEBHOOK_SECRET',
      'PUBLIC_BASE_URL',
      'TOKEN_SECRET',
      'ADMIN_LISTEN',
    ]);
    expect(e.message).toContain('Configuration is invalid (10 problems)');
    expect(e.message).toContain('IMAP_USER: unset while IMAP_HOST is set');
    expect(e.message).toContain('RHYMIX_MID: is unset, but other RHYMIX_* settings are set');
    expect(e.message).toContain('WEBHOOK_SECRET: is unset');
    expect(e.message).toMatch(
      /PUBLIC_BASE_URL: is http:\/\/127\.0\.0\.1:8787, but NODE_ENV=production needs https/,
    );
    expect(e.message).toContain('TOKEN_SECRET: is unset, but NODE_ENV=production needs it');
    for (const p of e.problems) expect(p.expected.length, p.variable).toBeGreaterThan(0);
    // What the CLI prints: the fix on a line of its own, not glued to the last problem.
    expect(e.describe()).toMatch(/\n {2}- ADMIN_LISTEN: [^\n]*\n {2}→ fix these variables/);
  });

  it('names every missing variable of a half-configured Rhymix, IMAP or webhook', () => {
    expect(
      failure({ RHYMIX_URL: 'https://b.kr/', RHYMIX_MID: 'isw' }).problems.map((p) => p.variable),
    ).toEqual(['RHYMIX_USER', 'RHYMIX_PASSWORD']);
    expect(failure({ PUBLISH_TARGETS: 'file,webhook' }).problems).toEqual([
      expect.objectContaining({
        variable: 'WEBHOOK_URL',
        problem: 'is unset, but PUBLISH_TARGETS names webhook',
      }),
      expect.objectContaining({ variable: 'WEBHOOK_SECRET' }),
    ]);
    expect(
      failure({
        IMAP_HOST: 'h',
        IMAP_USER: 'u',
        IMAP_OAUTH_TOKEN_URL: 'https://oauth2.example/token',
      }).problems.map((p) => p.variable),
    ).toEqual(['IMAP_OAUTH_CLIENT_ID', 'IMAP_OAUTH_CLIENT_SECRET', 'IMAP_OAUTH_REFRESH_TOKEN']);
    expect(failure({ SENDER_VERIFY: 'trust-header' }).problems.map((p) => p.variable)).toEqual([
      'SENDER_TRUSTED_AUTHSERV',
    ]);
    // Left out of PUBLISH_TARGETS, a half-configured target is off, not a problem.
    expect(
      loadEnv({ env: { RHYMIX_URL: 'https://b.kr/', PUBLISH_TARGETS: 'file' }, envFile: null }).RHYMIX_URL,
    ).toBe('https://b.kr/');
  });

  it('requires https links and a TOKEN_SECRET in production only', () => {
    expect(failure({ NODE_ENV: 'production' }).problems.map((p) => p.variable)).toEqual([
      'PUBLIC_BASE_URL',
      'TOKEN_SECRET',
    ]);
    const production = {
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://isw.example.org',
      TOKEN_SECRET: 'x'.repeat(40),
    };
    expect(loadEnv({ env: production, envFile: null }).NODE_ENV).toBe('production');
    expect(loadEnv({ env: { NODE_ENV: 'development' }, envFile: null }).TOKEN_SECRET).toBeUndefined();
  });

  it('says a wrong value once: a cross-field check does not repeat a variable whose own form is wrong', () => {
    const e = failure({
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://isw.example.org',
      TOKEN_SECRET: 'short',
      WEBHOOK_URL: 'https://hook.example/x',
      WEBHOOK_SECRET: 'short',
    });
    expect(e.problems.map((p) => [p.variable, p.problem])).toEqual([
      ['WEBHOOK_SECRET', 'got (hidden)'],
      ['TOKEN_SECRET', 'got (hidden)'],
    ]);
  });

  it('words each problem as one sentence with the expected form, never a raw pattern or zod message', () => {
    const e = failure({ ADMIN_LISTEN: 'nonsense', LLM_PRICE_PER_MTOKENS: 'cheap', DIGEST_TIME: '8am' });
    expect(e.message).toContain(
      'ADMIN_LISTEN: got "nonsense"; expected host:port, e.g. 127.0.0.1:8787, 0.0.0.0:8787 or [::1]:8787',
    );
    expect(e.message).toContain('DIGEST_TIME: got "8am"; expected a time of day as HH:MM (24-hour clock)');
    expect(e.message).not.toMatch(/\/\^|Invalid|pattern|the port must/);
    // A reason our schema gives in words is kept when the form itself was right.
    expect(failure({ ADMIN_LISTEN: '127.0.0.1:99999' }).problems).toEqual([
      {
        variable: 'ADMIN_LISTEN',
        problem: 'got "127.0.0.1:99999": the port must be from 0 to 65535',
        expected: 'host:port, e.g. 127.0.0.1:8787, 0.0.0.0:8787 or [::1]:8787',
      },
    ]);
  });

  it('wants GENERIC_SOURCE_NAMES as domain=short name pairs', () => {
    expect(failure({ GENERIC_SOURCE_NAMES: 'foo' }).message).toContain(
      'GENERIC_SOURCE_NAMES: got "foo": not a domain=short name pair: foo; expected domain=short name pairs, e.g. eebrief.example.org=EEB',
    );
    expect(failure({ GENERIC_SOURCE_NAMES: 'a.org=A, b.org=, =C, d.org=D=E' }).problems[0]?.problem).toBe(
      'got "a.org=A, b.org=, =C, d.org=D=E": not a domain=short name pair: b.org=, =C, d.org=D=E',
    );
    const env = loadEnv({
      env: { GENERIC_SOURCE_NAMES: 'eebrief.example.org=EEB, kyivindependent.com=KI' },
      envFile: null,
    });
    expect(env.GENERIC_SOURCE_NAMES).toBe('eebrief.example.org=EEB, kyivindependent.com=KI');
  });

  it('accepts an OPENAI_BASE_URL without /v1 (some servers use another root), as its description says', () => {
    const base = 'https://generativelanguage.googleapis.com/v1beta/openai/';
    expect(loadEnv({ env: { OPENAI_BASE_URL: base }, envFile: null }).OPENAI_BASE_URL).toBe(base);
    expect(SETTINGS.OPENAI_BASE_URL.expects).toContain('usually ending in /v1');
  });

  it('never shows a secret value in its error message', () => {
    try {
      loadEnv({ env: { REDIS_URL: 'ftp://user:hunter2secret@host' }, envFile: null });
      expect.unreachable('REDIS_URL with ftp:// must be rejected');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2secret');
      expect((err as Error).message).toContain('(hidden)');
    }
  });

  it('reads a .env file, and the real environment wins over it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-env-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, 'LOG_LEVEL=debug\nINBOX_DIR=/srv/inbox\nLLM_MODEL=\n');
    const env = loadEnv({ env: { INBOX_DIR: '/other' }, envFile: file });
    expect(env.LOG_LEVEL).toBe('debug');
    expect(env.INBOX_DIR).toBe('/other');
    expect(env.LLM_MODEL).toBeUndefined(); // empty means unset
  });

  it("refuses a .env line it cannot read and a misspelt setting, and keeps other tools' names", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-env-'));
    const file = path.join(dir, '.env');
    writeFileSync(
      file,
      [
        '# comments and blank lines are fine',
        '',
        'LOG_LEVEL debug',
        'RHYMIX_MIDD=isw',
        'export INBOX_DIR=/srv/inbox',
        'OTHER_TOOL_TOKEN=abc',
        'NODE_OPTIONS=--max-old-space-size=512',
        'MAIL_FROM="ISW 브리핑',
        '  <briefing@example.org>"',
      ].join('\n'),
    );
    const err = (() => {
      try {
        loadEnv({ env: {}, envFile: file });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain('.env line 3: cannot be read: "LOG_LEVEL debug"');
    expect(message).toContain(
      'RHYMIX_MIDD: (.env line 4) is not a setting isw-ko reads; did you mean RHYMIX_MID?',
    );
    expect(message).not.toContain('OTHER_TOOL_TOKEN');
    expect(message).not.toContain('NODE_OPTIONS');
    expect(message).not.toContain('line 9');
    expect((err as ConfigError).problems).toHaveLength(2);
  });

  it('lists secret values (and passwords inside URLs) for the logger to scrub, and hides them in `config`', () => {
    const env = loadEnv({
      env: { OPENAI_API_KEY: 'sk-test-123456', REDIS_URL: 'redis://:p4ssw0rd@127.0.0.1:6379' },
      envFile: null,
    });
    expect(secretValues(env)).toEqual(expect.arrayContaining(['sk-test-123456', 'p4ssw0rd']));
    const shown = describeEnv(env)
      .map((r) => r.value)
      .join(' ');
    expect(shown).not.toContain('sk-test-123456');
    expect(shown).not.toContain('p4ssw0rd');
  });
});
