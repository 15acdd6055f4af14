// Covers config loading: defaults, .env, every bad variable reported at once with what it expects, secrets hidden.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeEnv, loadEnv, secretValues } from '../../src/config/index.js';

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
