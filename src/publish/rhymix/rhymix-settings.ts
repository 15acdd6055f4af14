import { ConfigError, rhymixProblems, type Env } from '../../config/index.js';

/** Rhymix 2.x, or XpressEngine 1.x (no CSRF token: it only checks the Referer's host). */
export type RhymixFlavor = 'rhymix' | 'xe';

/** The Rhymix target's slice of the configuration, validated, with every default applied. */
export interface RhymixSettings {
  /** The site root, where `index.php` lives, without a trailing slash or `index.php`. */
  readonly baseUrl: string;
  /** The board's module id. */
  readonly mid: string;
  readonly userId: string;
  /** Secret: never log it. */
  readonly password: string;
  /** Category name (or category_srl) from RHYMIX_CATEGORY; null when none is configured. */
  readonly category: string | null;
  /** Tags added to every post. */
  readonly tags: readonly string[];
  readonly allowComments: boolean;
  /** N of the `extra_varsN` field that gets the source URL; null when the board has none for it. */
  readonly sourceExtraVar: number | null;
  /** Minimum time between two writes to the site, across processes. */
  readonly minIntervalMs: number;
  readonly flavor: RhymixFlavor;
  /** The board's document size limit in KB when the operator told us; null: not checked locally. */
  readonly maxContentKb: number | null;
  /** Timeout of one HTTP request. */
  readonly timeoutMs: number;
}

/** The environment variables {@link rhymixSettingsFrom} reads. */
export type RhymixEnv = Pick<
  Env,
  | 'PUBLISH_TARGETS'
  | 'RHYMIX_URL'
  | 'RHYMIX_MID'
  | 'RHYMIX_USER'
  | 'RHYMIX_PASSWORD'
  | 'RHYMIX_CATEGORY'
  | 'RHYMIX_TAGS'
  | 'RHYMIX_ALLOW_COMMENTS'
  | 'RHYMIX_SOURCE_EXTRA_VAR'
  | 'RHYMIX_MIN_INTERVAL_MS'
  | 'RHYMIX_FLAVOR'
  | 'RHYMIX_MAX_CONTENT_KB'
  | 'RHYMIX_TIMEOUT_MS'
>;

/**
 * The Rhymix settings, or null when the Rhymix target is not configured (none of RHYMIX_URL,
 * RHYMIX_MID, RHYMIX_USER, RHYMIX_PASSWORD set, and `rhymix` not named in PUBLISH_TARGETS) or
 * PUBLISH_TARGETS leaves it out. A half-configured target is reported by `loadEnv` at start-up with
 * every other problem; an Env that skipped it still gets the same {@link ConfigError} here.
 */
export function rhymixSettingsFrom(env: RhymixEnv): RhymixSettings | null {
  const problems = rhymixProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const excluded = env.PUBLISH_TARGETS !== undefined && !env.PUBLISH_TARGETS.includes('rhymix');
  const { RHYMIX_URL: url, RHYMIX_MID: mid, RHYMIX_USER: userId, RHYMIX_PASSWORD: password } = env;
  // No problems and not excluded: all four are set, or none (the target is off).
  if (excluded || url === undefined || mid === undefined || userId === undefined || password === undefined)
    return null;
  return {
    baseUrl: siteBaseUrl(url),
    mid,
    userId,
    password,
    category: env.RHYMIX_CATEGORY ?? null,
    tags: env.RHYMIX_TAGS,
    allowComments: env.RHYMIX_ALLOW_COMMENTS,
    sourceExtraVar: env.RHYMIX_SOURCE_EXTRA_VAR ?? null,
    minIntervalMs: env.RHYMIX_MIN_INTERVAL_MS,
    flavor: env.RHYMIX_FLAVOR,
    maxContentKb: env.RHYMIX_MAX_CONTENT_KB ?? null,
    timeoutMs: env.RHYMIX_TIMEOUT_MS,
  };
}

/**
 * The site root of a board URL as operators paste it: `https://x.kr/`, `https://x.kr/index.php`,
 * `https://x.kr/xe/index.php?mid=isw` all become `https://x.kr` or `https://x.kr/xe`.
 */
export function siteBaseUrl(url: string): string {
  const u = new URL(url);
  let path = u.pathname.replace(/\/index\.php$/, '/');
  path = path.replace(/\/+$/, '');
  return `${u.origin}${path}`;
}

/** A publish target's name. */
export type PublishTargetName = 'file' | 'rhymix' | 'webhook';

/**
 * The publish targets to run: PUBLISH_TARGETS when set, else `file` plus `rhymix` and `webhook`
 * when their settings are present. (This belongs beside the other targets in `src/publish/`; it
 * lives here until that folder's owner moves it.)
 */
export function publishTargetNamesFrom(
  env: Pick<Env, 'PUBLISH_TARGETS' | 'RHYMIX_URL' | 'WEBHOOK_URL'>,
): PublishTargetName[] {
  if (env.PUBLISH_TARGETS !== undefined) return [...new Set(env.PUBLISH_TARGETS)];
  const names: PublishTargetName[] = ['file'];
  if (env.RHYMIX_URL !== undefined) names.push('rhymix');
  if (env.WEBHOOK_URL !== undefined) names.push('webhook');
  return names;
}
