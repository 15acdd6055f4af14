import { ConfigError, type ConfigProblem, type Env } from '../../config/index.js';

/** The webhook target's slice of the configuration. */
export interface WebhookSettings {
  readonly url: string;
  /** Key of the HMAC signature. Secret: never log it. */
  readonly secret: string;
  /** Timeout of one delivery. */
  readonly timeoutMs: number;
}

/** The environment variables {@link webhookSettingsFrom} reads. */
export type WebhookEnv = Pick<
  Env,
  'PUBLISH_TARGETS' | 'WEBHOOK_URL' | 'WEBHOOK_SECRET' | 'WEBHOOK_TIMEOUT_MS'
>;

/**
 * The webhook settings, or null when the target is off (no WEBHOOK_URL and `webhook` not named
 * in PUBLISH_TARGETS, or PUBLISH_TARGETS leaves it out). Throws a {@link ConfigError} when it is
 * half configured: a receiver must always be able to verify what it gets, so no secret, no
 * webhook.
 */
export function webhookSettingsFrom(env: WebhookEnv): WebhookSettings | null {
  const requested = env.PUBLISH_TARGETS?.includes('webhook') ?? false;
  if (env.PUBLISH_TARGETS !== undefined && !requested) return null;
  const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = env;
  if (url === undefined && secret === undefined && !requested) return null;
  const problems: ConfigProblem[] = [];
  if (url === undefined) {
    problems.push({
      variable: 'WEBHOOK_URL',
      problem: requested
        ? 'is unset, but PUBLISH_TARGETS names webhook'
        : 'is unset, but WEBHOOK_SECRET is set',
      expected: 'the http(s) URL of the receiver',
    });
  }
  if (secret === undefined) {
    problems.push({
      variable: 'WEBHOOK_SECRET',
      problem: 'is unset: deliveries must be signed so the receiver can verify them',
      expected: 'a shared secret of at least 16 characters, e.g. from `openssl rand -hex 32`',
    });
  }
  if (url === undefined || secret === undefined) throw new ConfigError(problems);
  return { url, secret, timeoutMs: env.WEBHOOK_TIMEOUT_MS };
}
