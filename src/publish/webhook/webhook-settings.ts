import { ConfigError, webhookProblems, type Env } from '../../config/index.js';

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
 * in PUBLISH_TARGETS, or PUBLISH_TARGETS leaves it out). A half-configured webhook (a receiver
 * must always be able to verify what it gets, so no secret, no webhook) is reported by `loadEnv`
 * at start-up with every other problem; an Env that skipped it still gets the same
 * {@link ConfigError} here.
 */
export function webhookSettingsFrom(env: WebhookEnv): WebhookSettings | null {
  const problems = webhookProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  const excluded = env.PUBLISH_TARGETS !== undefined && !env.PUBLISH_TARGETS.includes('webhook');
  const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = env;
  if (excluded || url === undefined || secret === undefined) return null;
  return { url, secret, timeoutMs: env.WEBHOOK_TIMEOUT_MS };
}
