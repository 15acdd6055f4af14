// Covers the Rhymix and publish-target settings: defaults, the off state, half-configured errors, and site URL normalisation.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../src/config/index.js';
import {
  publishTargetNamesFrom,
  rhymixSettingsFrom,
  siteBaseUrl,
} from '../../src/publish/rhymix/rhymix-settings.js';

const FULL = {
  RHYMIX_URL: 'https://board.example.kr/index.php',
  RHYMIX_MID: 'isw',
  RHYMIX_USER: 'iswbot',
  RHYMIX_PASSWORD: 'bot-password-1',
};

function env(vars: Record<string, string>): ReturnType<typeof loadEnv> {
  return loadEnv({ env: vars, envFile: null });
}

describe('rhymixSettingsFrom', () => {
  it('is null when nothing is configured', () => {
    expect(rhymixSettingsFrom(env({}))).toBeNull();
  });

  it('applies every default to a configured board', () => {
    expect(
      rhymixSettingsFrom(env({ ...FULL, RHYMIX_TAGS: 'ISW, 전쟁', RHYMIX_SOURCE_EXTRA_VAR: '3' })),
    ).toEqual({
      baseUrl: 'https://board.example.kr',
      mid: 'isw',
      userId: 'iswbot',
      password: 'bot-password-1',
      category: null,
      tags: ['ISW', '전쟁'],
      allowComments: true,
      sourceExtraVar: 3,
      minIntervalMs: 60_000,
      flavor: 'rhymix',
      maxContentKb: null,
      timeoutMs: 30_000,
    });
  });

  it('names every missing variable when half configured or asked for', () => {
    const half = (() => {
      try {
        rhymixSettingsFrom(env({ RHYMIX_URL: FULL.RHYMIX_URL, RHYMIX_MID: 'isw' }));
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(half).toBeInstanceOf(ConfigError);
    expect((half as ConfigError).problems.map((p) => p.variable)).toEqual(['RHYMIX_USER', 'RHYMIX_PASSWORD']);
    expect(() => rhymixSettingsFrom(env({ PUBLISH_TARGETS: 'file,rhymix' }))).toThrow(
      /PUBLISH_TARGETS names rhymix/,
    );
  });

  it('refuses a half-configured Env built by hand too (loadEnv reports it at start-up)', () => {
    expect(() => env({ RHYMIX_URL: FULL.RHYMIX_URL })).toThrow(
      /RHYMIX_MID[\s\S]*RHYMIX_USER[\s\S]*RHYMIX_PASSWORD/,
    );
    const handMade = { ...env({}), RHYMIX_URL: FULL.RHYMIX_URL, RHYMIX_USER: 'iswbot' };
    const err = (() => {
      try {
        rhymixSettingsFrom(handMade);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(['RHYMIX_MID', 'RHYMIX_PASSWORD']);
  });

  it('is null when PUBLISH_TARGETS leaves rhymix out, even if configured', () => {
    expect(rhymixSettingsFrom(env({ ...FULL, PUBLISH_TARGETS: 'file' }))).toBeNull();
  });

  it('refuses a bad flavor, mid or interval at load time', () => {
    expect(() => env({ ...FULL, RHYMIX_FLAVOR: 'wordpress' })).toThrow(/RHYMIX_FLAVOR/);
    expect(() => env({ ...FULL, RHYMIX_MID: 'is w' })).toThrow(/RHYMIX_MID/);
    expect(() => env({ ...FULL, RHYMIX_MIN_INTERVAL_MS: '-5' })).toThrow(/RHYMIX_MIN_INTERVAL_MS/);
    expect(() => env({ PUBLISH_TARGETS: 'file,ftp' })).toThrow(/PUBLISH_TARGETS/);
  });
});

describe('siteBaseUrl', () => {
  it.each([
    ['https://x.kr', 'https://x.kr'],
    ['https://x.kr/', 'https://x.kr'],
    ['https://x.kr/index.php', 'https://x.kr'],
    ['https://x.kr/xe/index.php?mid=isw', 'https://x.kr/xe'],
    ['http://127.0.0.1:8080/board/', 'http://127.0.0.1:8080/board'],
  ])('%s → %s', (input, expected) => {
    expect(siteBaseUrl(input)).toBe(expected);
  });
});

describe('publishTargetNamesFrom', () => {
  it('defaults to file plus the configured targets, and follows PUBLISH_TARGETS when set', () => {
    expect(publishTargetNamesFrom(env({}))).toEqual(['file']);
    expect(
      publishTargetNamesFrom(
        env({ ...FULL, WEBHOOK_URL: 'https://hook.example/x', WEBHOOK_SECRET: 'a'.repeat(32) }),
      ),
    ).toEqual(['file', 'rhymix', 'webhook']);
    expect(publishTargetNamesFrom(env({ ...FULL, PUBLISH_TARGETS: 'rhymix, rhymix' }))).toEqual(['rhymix']);
  });
});
