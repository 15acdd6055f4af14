import { createHash } from 'node:crypto';
import { ConfigError, imapProblems, readCaFile, senderProblems, type Env } from '../config/index.js';
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
 * The IMAP settings, or null when IMAP_HOST is unset (the drop folder is the inbox then). What one
 * variable alone cannot show (a host without a user, no password and no token, a "processed"
 * folder equal to the watched one, an unreadable IMAP_CA_FILE) is reported by `loadEnv` at
 * start-up with every other problem; an Env that skipped it still gets the same
 * {@link ConfigError} here, listing every problem with the variable's name.
 */
export function imapSettingsFrom(env: Env): ImapSettings | null {
  if (env.IMAP_HOST === undefined) return null;
  const problems = imapProblems(env);
  if (problems.length > 0) throw new ConfigError(problems);
  let ca: string | null = null;
  if (env.IMAP_CA_FILE !== undefined) {
    // Read again for its text: imapProblems only said it is readable and a PEM.
    const file = readCaFile(env.IMAP_CA_FILE);
    if ('problem' in file) throw new ConfigError([file.problem]);
    ca = file.pem;
  }
  const processed = parseProcessed(env.IMAP_PROCESSED);
  const oauthSet = [
    env.IMAP_OAUTH_TOKEN_URL,
    env.IMAP_OAUTH_CLIENT_ID,
    env.IMAP_OAUTH_CLIENT_SECRET,
    env.IMAP_OAUTH_REFRESH_TOKEN,
  ].some((v) => v !== undefined);
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

/**
 * Who may post, and how their mail is authenticated. `loadEnv` has reported a bad list or a
 * missing authserv-id already; an Env that skipped it gets the same one {@link ConfigError} here.
 */
export function senderPolicyFrom(env: Env): SenderPolicy {
  const problems = senderProblems(env);
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
