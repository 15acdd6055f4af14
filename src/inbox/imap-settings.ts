import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigProblem, type Env } from '../config/index.js';
import type { OAuth2Settings } from './oauth2.js';
import type { SenderPolicy } from './sender-policy.js';

/** How the connection is protected. */
export type TlsMode = 'implicit' | 'starttls' | 'none';

/** What marks a message as handled once its `ingest` job is queued. Mail is never deleted. */
export type ProcessedAction =
  { readonly kind: 'flag'; readonly flag: string } | { readonly kind: 'move'; readonly folder: string };

/**
 * Login: a password, an OAuth2 access token (SASL XOAUTH2 / OAUTHBEARER, RFC 7628), or an OAuth2
 * refresh token traded for a fresh access token on every connect (see `OAuth2TokenSource`).
 */
export type ImapAuth =
  | { readonly user: string; readonly pass: string }
  | { readonly user: string; readonly accessToken: string }
  | { readonly user: string; readonly oauth2: OAuth2Settings };

/** The IMAP slice of the configuration, validated. */
export interface ImapSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly auth: ImapAuth;
  /** Extra trusted CA certificates (PEM, from IMAP_CA_FILE), or null for the public CAs only. */
  readonly ca: string | null;
  /** The folder watched for new mail. */
  readonly mailbox: string;
  readonly processed: ProcessedAction;
  /** Use IDLE (RFC 2177) when the server offers it. */
  readonly idle: boolean;
  /** Poll interval without IDLE, and safety-net/liveness check beside it. */
  readonly pollMs: number;
  /** No genuine report for this long trips the watchdog. */
  readonly watchdogMs: number;
}

const HOUR_MS = 3_600_000;

/** Parse `flag:NAME` / `move:FOLDER` (already shape-checked by the settings schema). */
export function parseProcessed(value: string): ProcessedAction {
  if (value.startsWith('move:')) return { kind: 'move', folder: value.slice('move:'.length).trim() };
  return { kind: 'flag', flag: value.slice('flag:'.length).trim() };
}

/**
 * The IMAP settings, or null when IMAP_HOST is unset (the drop folder is the inbox then).
 * Checks what one variable alone cannot (a host without a user, no password and no token, a
 * "processed" folder equal to the watched one) and throws one {@link ConfigError} listing every
 * problem with the variable's name.
 */
export function imapSettingsFrom(env: Env): ImapSettings | null {
  if (env.IMAP_HOST === undefined) return null;
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
  const processed = parseProcessed(env.IMAP_PROCESSED);
  if (processed.kind === 'move' && sameMailbox(processed.folder, env.IMAP_MAILBOX)) {
    problems.push({
      variable: 'IMAP_PROCESSED',
      problem: `moves processed mail into the watched mailbox ${env.IMAP_MAILBOX} itself`,
      expected: 'move:FOLDER with a folder other than IMAP_MAILBOX, or flag:NAME',
    });
  }
  let ca: string | null = null;
  if (env.IMAP_CA_FILE !== undefined) {
    try {
      ca = readFileSync(env.IMAP_CA_FILE, 'utf8');
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
        problems.push({
          variable: 'IMAP_CA_FILE',
          problem: `${env.IMAP_CA_FILE} holds no PEM certificate`,
          expected: 'a PEM file (-----BEGIN CERTIFICATE-----) with the CA of the IMAP server',
        });
      }
    } catch (err) {
      problems.push({
        variable: 'IMAP_CA_FILE',
        problem: `cannot read ${env.IMAP_CA_FILE}: ${err instanceof Error ? err.message : String(err)}`,
        expected: 'the path of a readable PEM file',
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const user = env.IMAP_USER ?? '';
  return {
    host: env.IMAP_HOST,
    port: env.IMAP_PORT ?? (env.IMAP_TLS === 'implicit' ? 993 : 143),
    tls: env.IMAP_TLS,
    ca,
    auth: oauthSet
      ? {
          user,
          oauth2: {
            tokenUrl: env.IMAP_OAUTH_TOKEN_URL ?? '',
            clientId: env.IMAP_OAUTH_CLIENT_ID ?? '',
            clientSecret: env.IMAP_OAUTH_CLIENT_SECRET ?? '',
            refreshToken: env.IMAP_OAUTH_REFRESH_TOKEN ?? '',
            scope: env.IMAP_OAUTH_SCOPE ?? null,
          },
        }
      : env.IMAP_ACCESS_TOKEN !== undefined
        ? { user, accessToken: env.IMAP_ACCESS_TOKEN }
        : { user, pass: env.IMAP_PASSWORD ?? '' },
    mailbox: env.IMAP_MAILBOX,
    processed,
    idle: env.IMAP_IDLE,
    pollMs: env.IMAP_POLL_MS,
    watchdogMs: env.IMAP_WATCHDOG_HOURS * HOUR_MS,
  };
}

// RFC 3501 §5.1: INBOX is case-insensitive, every other name is compared as given.
function sameMailbox(a: string, b: string): boolean {
  return a.toUpperCase() === 'INBOX' ? b.toUpperCase() === 'INBOX' : a === b;
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i;
const ADDRESS = /^[^\s@]+@[^\s@]+$/;

/** Who may post, and how their mail is authenticated. Throws one ConfigError listing every problem. */
export function senderPolicyFrom(env: Env): SenderPolicy {
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
  if (problems.length > 0) throw new ConfigError(problems);
  const lower = (list: readonly string[]): string[] => list.map((e) => e.toLowerCase());
  return {
    mode: env.SENDER_VERIFY,
    allowlist: lower(env.SENDER_ALLOWLIST),
    rewriteDomains: lower(env.SENDER_REWRITE_DOMAINS),
    trustedForwarders: lower(env.SENDER_TRUSTED_FORWARDERS),
    trustedAuthservIds: lower(env.SENDER_TRUSTED_AUTHSERV),
  };
}

/** "user@host:port/INBOX (implicit TLS)" for logs and doctor; never the password. */
export function describeImap(settings: ImapSettings): string {
  const tls =
    settings.tls === 'implicit' ? 'implicit TLS' : settings.tls === 'starttls' ? 'STARTTLS' : 'no TLS';
  return `${settings.auth.user}@${settings.host}:${settings.port}/${settings.mailbox} (${tls})`;
}

/**
 * A short stable id of the watched mailbox (server, login, folder): the Redis keys of its
 * UIDVALIDITY/last UID and of its single-watcher lock are named after it.
 */
export function mailboxIdOf(
  settings: Pick<ImapSettings, 'host' | 'port' | 'auth' | 'mailbox'>,
  mailbox = settings.mailbox,
): string {
  const box = mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : mailbox;
  return createHash('sha256')
    .update(`${settings.host.toLowerCase()}\n${settings.port}\n${settings.auth.user.toLowerCase()}\n${box}`)
    .digest('hex')
    .slice(0, 16);
}

/** Start-up warnings about settings that work but are risky. */
export function settingsWarnings(settings: ImapSettings | null, policy: SenderPolicy): string[] {
  const out: string[] = [];
  if (policy.mode === 'off') {
    out.push(
      'SENDER_VERIFY=off: sender authentication is DISABLED — anyone who can send mail to this mailbox can post to the board as ISW. Use it only for a private, trusted mailbox.',
    );
  }
  if (settings !== null && settings.tls === 'none' && !isLoopback(settings.host)) {
    out.push(
      `IMAP_TLS=none for ${settings.host}: the password and the mail travel unencrypted; use implicit or starttls.`,
    );
  }
  return out;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
