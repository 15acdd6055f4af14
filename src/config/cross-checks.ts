import { readFileSync } from 'node:fs';
import type { ConfigProblem } from './config-error.js';
import type { Env } from './settings.js';

/*
 * Checks that no single variable can make: a part half configured, two ways to log in at once, a
 * production requirement. `loadEnv` runs all of them after the per-variable schemas, so start-up
 * lists every problem in one go; the stages' `*SettingsFrom(env)` helpers run theirs again as a
 * safety net (an Env built by hand in a test or a script), with the same words.
 */

/** The variables {@link rhymixProblems} reads. */
export type RhymixPartEnv = Pick<
  Env,
  'PUBLISH_TARGETS' | 'RHYMIX_URL' | 'RHYMIX_MID' | 'RHYMIX_USER' | 'RHYMIX_PASSWORD'
>;

/** What the Rhymix target cannot work without. */
export const RHYMIX_REQUIRED = ['RHYMIX_URL', 'RHYMIX_MID', 'RHYMIX_USER', 'RHYMIX_PASSWORD'] as const;

/**
 * The Rhymix target half configured (some of {@link RHYMIX_REQUIRED} set, not all) or named in
 * PUBLISH_TARGETS without its settings: one problem per missing variable. None when PUBLISH_TARGETS
 * leaves rhymix out (the target is off whatever else is set).
 */
export function rhymixProblems(env: RhymixPartEnv): ConfigProblem[] {
  const requested = env.PUBLISH_TARGETS?.includes('rhymix') ?? false;
  const excluded = env.PUBLISH_TARGETS !== undefined && !requested;
  const missing = RHYMIX_REQUIRED.filter((name) => env[name] === undefined);
  if (excluded || (missing.length === RHYMIX_REQUIRED.length && !requested)) return [];
  return missing.map((variable) => ({
    variable,
    problem: requested
      ? 'is unset, but PUBLISH_TARGETS names rhymix'
      : 'is unset, but other RHYMIX_* settings are set',
    expected: `${RHYMIX_REQUIRED.join(', ')} all set (or none of them, to turn the Rhymix target off)`,
  }));
}

/** The variables {@link webhookProblems} reads. */
export type WebhookPartEnv = Pick<Env, 'PUBLISH_TARGETS' | 'WEBHOOK_URL' | 'WEBHOOK_SECRET'>;

/**
 * The webhook target half configured: a receiver must always be able to verify what it gets, so a
 * URL without a secret is a problem, and so is a secret, or `webhook` in PUBLISH_TARGETS, without
 * a URL.
 */
export function webhookProblems(env: WebhookPartEnv): ConfigProblem[] {
  const requested = env.PUBLISH_TARGETS?.includes('webhook') ?? false;
  if (env.PUBLISH_TARGETS !== undefined && !requested) return [];
  const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = env;
  if (url === undefined && secret === undefined && !requested) return [];
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
  return problems;
}

/** The variables {@link imapProblems} reads. */
export type ImapPartEnv = Pick<
  Env,
  | 'IMAP_HOST'
  | 'IMAP_USER'
  | 'IMAP_PASSWORD'
  | 'IMAP_ACCESS_TOKEN'
  | 'IMAP_OAUTH_TOKEN_URL'
  | 'IMAP_OAUTH_CLIENT_ID'
  | 'IMAP_OAUTH_CLIENT_SECRET'
  | 'IMAP_OAUTH_REFRESH_TOKEN'
  | 'IMAP_PROCESSED'
  | 'IMAP_MAILBOX'
  | 'IMAP_CA_FILE'
>;

/**
 * IMAP set up in a way that cannot log in or would loop: a host without a user, no password and no
 * token (or two ways at once), a partial IMAP_OAUTH_* set, processed mail moved into the watched
 * folder itself, an IMAP_CA_FILE that cannot be read or holds no certificate. None without
 * IMAP_HOST: the drop folder is the inbox then, and the other IMAP_* are not used.
 */
export function imapProblems(env: ImapPartEnv): ConfigProblem[] {
  if (env.IMAP_HOST === undefined) return [];
  const problems: ConfigProblem[] = [];
  if (env.IMAP_USER === undefined) {
    problems.push({
      variable: 'IMAP_USER',
      problem: 'unset while IMAP_HOST is set',
      expected: 'the login name of the mailbox, usually the full address',
    });
  }
  const oauthVars = {
    IMAP_OAUTH_TOKEN_URL: env.IMAP_OAUTH_TOKEN_URL,
    IMAP_OAUTH_CLIENT_ID: env.IMAP_OAUTH_CLIENT_ID,
    IMAP_OAUTH_CLIENT_SECRET: env.IMAP_OAUTH_CLIENT_SECRET,
    IMAP_OAUTH_REFRESH_TOKEN: env.IMAP_OAUTH_REFRESH_TOKEN,
  };
  const oauthSet = Object.values(oauthVars).some((v) => v !== undefined);
  if (oauthSet) {
    for (const [variable, value] of Object.entries(oauthVars)) {
      if (value === undefined) {
        problems.push({
          variable,
          problem: 'unset while other IMAP_OAUTH_* variables are set',
          expected: 'all four of IMAP_OAUTH_TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN',
        });
      }
    }
  }
  const ways = [
    env.IMAP_PASSWORD === undefined ? null : 'IMAP_PASSWORD',
    env.IMAP_ACCESS_TOKEN === undefined ? null : 'IMAP_ACCESS_TOKEN',
    oauthSet ? 'IMAP_OAUTH_REFRESH_TOKEN' : null,
  ].filter((w) => w !== null);
  if (ways.length === 0) {
    problems.push({
      variable: 'IMAP_PASSWORD',
      problem: 'no way to log in is set',
      expected:
        'a password (an app password for Gmail, Naver, Daum), an OAuth2 token in IMAP_ACCESS_TOKEN, or the IMAP_OAUTH_* refresh-token settings',
    });
  }
  if (ways.length > 1) {
    problems.push({
      variable: ways[1] ?? 'IMAP_ACCESS_TOKEN',
      problem: `set together with ${ways[0] ?? 'another login'}`,
      expected: 'only one of IMAP_PASSWORD, IMAP_ACCESS_TOKEN and the IMAP_OAUTH_* settings',
    });
  }
  const moveTo = env.IMAP_PROCESSED.startsWith('move:')
    ? env.IMAP_PROCESSED.slice('move:'.length).trim()
    : null;
  if (moveTo !== null && sameMailbox(moveTo, env.IMAP_MAILBOX)) {
    problems.push({
      variable: 'IMAP_PROCESSED',
      problem: `moves processed mail into the watched mailbox ${env.IMAP_MAILBOX} itself`,
      expected: 'move:FOLDER with a folder other than IMAP_MAILBOX, or flag:NAME',
    });
  }
  if (env.IMAP_CA_FILE !== undefined) {
    const ca = readCaFile(env.IMAP_CA_FILE);
    if ('problem' in ca) problems.push(ca.problem);
  }
  return problems;
}

// RFC 3501 §5.1: INBOX is case-insensitive, every other name is compared as given.
function sameMailbox(a: string, b: string): boolean {
  return a.toUpperCase() === 'INBOX' ? b.toUpperCase() === 'INBOX' : a === b;
}

/**
 * The PEM text of IMAP_CA_FILE, or the problem with it (unreadable, or no certificate inside).
 * Reading a local file opens no connection, so it belongs to the checks made before start-up.
 */
export function readCaFile(file: string): { readonly pem: string } | { readonly problem: ConfigProblem } {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      problem: {
        variable: 'IMAP_CA_FILE',
        problem: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
        expected: 'the path of a readable PEM file',
      },
    };
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    return {
      problem: {
        variable: 'IMAP_CA_FILE',
        problem: `${file} holds no PEM certificate`,
        expected: 'a PEM file (-----BEGIN CERTIFICATE-----) with the CA of the IMAP server',
      },
    };
  }
  return { pem };
}

/** The variables {@link senderProblems} reads. */
export type SenderPartEnv = Pick<
  Env,
  | 'SENDER_ALLOWLIST'
  | 'SENDER_REWRITE_DOMAINS'
  | 'SENDER_TRUSTED_FORWARDERS'
  | 'SENDER_VERIFY'
  | 'SENDER_TRUSTED_AUTHSERV'
>;

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i;
const ADDRESS = /^[^\s@]+@[^\s@]+$/;

/** True for a host name with at least one dot (`understandingwar.org`, `shared1.ccsend.com`). */
export function isDomainName(value: string): boolean {
  return DOMAIN.test(value);
}

/**
 * Who may post, checked: every allowlist entry a domain or an address, rewrite domains domains,
 * forwarders addresses, and a trusted authserv-id when SENDER_VERIFY=trust-header.
 */
export function senderProblems(env: SenderPartEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const badAllow = env.SENDER_ALLOWLIST.filter((e) => !DOMAIN.test(e) && !ADDRESS.test(e));
  if (env.SENDER_ALLOWLIST.length === 0 || badAllow.length > 0) {
    problems.push({
      variable: 'SENDER_ALLOWLIST',
      problem: badAllow.length > 0 ? `not a domain or address: ${badAllow.join(', ')}` : 'empty',
      expected: 'a comma-separated list of domains and addresses, e.g. understandingwar.org',
    });
  }
  const badRewrite = env.SENDER_REWRITE_DOMAINS.filter((e) => !DOMAIN.test(e));
  if (badRewrite.length > 0) {
    problems.push({
      variable: 'SENDER_REWRITE_DOMAINS',
      problem: `not a domain: ${badRewrite.join(', ')}`,
      expected: 'a comma-separated list of domains, e.g. ccsend.com',
    });
  }
  const badForwarders = env.SENDER_TRUSTED_FORWARDERS.filter((e) => !ADDRESS.test(e));
  if (badForwarders.length > 0) {
    problems.push({
      variable: 'SENDER_TRUSTED_FORWARDERS',
      problem: `not an email address: ${badForwarders.join(', ')}`,
      expected: 'a comma-separated list of email addresses',
    });
  }
  if (env.SENDER_VERIFY === 'trust-header' && env.SENDER_TRUSTED_AUTHSERV.length === 0) {
    problems.push({
      variable: 'SENDER_TRUSTED_AUTHSERV',
      problem: 'empty while SENDER_VERIFY=trust-header',
      expected: 'the authserv-id your provider writes first in Authentication-Results, e.g. mx.google.com',
    });
  }
  return problems;
}

/** The variables {@link productionProblems} reads. */
export type ProductionEnv = Pick<Env, 'NODE_ENV' | 'PUBLIC_BASE_URL' | 'TOKEN_SECRET'>;

/**
 * What NODE_ENV=production requires on top of development: https links in emails (RFC 8058
 * one-click unsubscribe needs an HTTPS URI) and a TOKEN_SECRET of its own (development generates
 * one into DATA_DIR, which a second machine would not share).
 */
export function productionProblems(env: ProductionEnv): ConfigProblem[] {
  if (env.NODE_ENV !== 'production') return [];
  const problems: ConfigProblem[] = [];
  if (!env.PUBLIC_BASE_URL.startsWith('https://')) {
    problems.push({
      variable: 'PUBLIC_BASE_URL',
      problem: `is ${env.PUBLIC_BASE_URL}, but NODE_ENV=production needs https (RFC 8058 one-click unsubscribe links)`,
      expected: 'the https address of the admin server, e.g. https://isw.example.org',
    });
  }
  if (env.TOKEN_SECRET === undefined) {
    problems.push({
      variable: 'TOKEN_SECRET',
      problem: 'is unset, but NODE_ENV=production needs it: it signs every confirm and unsubscribe link',
      expected: 'a random string of at least 32 characters, e.g. from `openssl rand -base64 48`',
    });
  }
  return problems;
}

/** Every check above, on the whole validated environment. */
export function crossFieldProblems(env: Env): ConfigProblem[] {
  return [
    ...imapProblems(env),
    ...senderProblems(env),
    ...rhymixProblems(env),
    ...webhookProblems(env),
    ...productionProblems(env),
  ];
}
