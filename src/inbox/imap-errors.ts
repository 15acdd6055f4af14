import { isAppError } from '../shared/app-error.js';
import { InboxError } from './inbox-error.js';
import type { ImapSettings } from './imap-settings.js';

/** The fields imapflow and Node put on their errors that the classification reads. */
interface ErrorFacts {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly authenticationFailed?: unknown;
  readonly serverResponseCode?: unknown;
  readonly responseStatus?: unknown;
  readonly responseText?: unknown;
  readonly tlsFailed?: unknown;
  readonly mailboxMissing?: unknown;
  readonly command?: unknown;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'NoConnection',
  'EConnectionClosed',
  'ClosedAfterConnectText',
  'StateLogout',
]);
const TIMEOUT_CODES = new Set([
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
  'ETIMEOUT',
  'ETIMEDOUT',
]);
// Node's TLS / OpenSSL codes that mean "this is not the TLS you configured" or "untrusted certificate".
const TLS_CODE =
  /^(?:ERR_SSL_|ERR_TLS_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|ClosedAfterConnectTLS$|STARTTLS_)/;
// The certificate itself is the problem (not the TLS mode or port).
const CERT_CODE =
  /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|ERR_TLS_CERT_ALTNAME_INVALID$)/;
// RFC 5530 response codes that mean "try again later", not "wrong password".
const TRANSIENT_AUTH_CODES = new Set(['UNAVAILABLE', 'INUSE', 'LIMIT', 'SERVERBUG']);

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Turn whatever imapflow, Node or a timeout threw into an {@link InboxError} with a stable code
 * and a hint naming the setting to check. Pure: classification is by error code and flags, never
 * by message text (servers word their replies differently).
 */
export function classifyImapError(
  err: unknown,
  settings: Pick<ImapSettings, 'host' | 'port' | 'tls' | 'mailbox'>,
): InboxError {
  if (err instanceof InboxError) return err;
  if (isAppError(err)) {
    return new InboxError('IMAP_PROTOCOL', err.kind, err.message, {
      cause: err,
      ...(err.hint === undefined ? {} : { hint: err.hint }),
    });
  }
  const facts: ErrorFacts = typeof err === 'object' && err !== null ? err : {};
  const code = str(facts.code) ?? '';
  const message = str(facts.message) ?? String(err);
  const responseCode = (str(facts.serverResponseCode) ?? '').toUpperCase();
  const where = `${settings.host}:${settings.port}`;
  const details = {
    code: code === '' ? undefined : code,
    responseCode: responseCode === '' ? undefined : responseCode,
  };

  if (
    facts.authenticationFailed === true ||
    responseCode === 'AUTHENTICATIONFAILED' ||
    responseCode === 'AUTHORIZATIONFAILED' ||
    (TRANSIENT_AUTH_CODES.has(responseCode) && /^(?:LOGIN|AUTHENTICATE)$/i.test(str(facts.command) ?? ''))
  ) {
    const transient = TRANSIENT_AUTH_CODES.has(responseCode);
    return new InboxError(
      'IMAP_AUTH',
      transient ? 'operational' : 'user',
      transient
        ? `the IMAP server ${where} could not log us in right now (${responseCode})`
        : `the IMAP server ${where} refused the login`,
      {
        cause: err,
        details,
        hint: transient
          ? 'nothing to change: the server asked to try again later, and the watcher will'
          : 'check IMAP_USER and IMAP_PASSWORD (Gmail, Naver and Daum need an app password and IMAP enabled in their web settings) or renew the OAuth2 token in IMAP_ACCESS_TOKEN; with IMAP_OAUTH_* the consent must include IMAP access (Google: https://mail.google.com/) for IMAP_USER',
      },
    );
  }
  if (facts.tlsFailed === true || TLS_CODE.test(code)) {
    const certificate = CERT_CODE.test(code);
    return new InboxError('IMAP_TLS', 'user', `TLS with the IMAP server ${where} failed: ${message.trim()}`, {
      cause: err,
      details,
      hint: certificate
        ? "the server's certificate is not trusted (self-signed, expired or for another host name): use a certificate from a public CA, or set IMAP_CA_FILE to your CA's certificate (PEM)"
        : settings.tls === 'implicit'
          ? 'IMAP_TLS=implicit expects TLS from the first byte (port 993); for a plain port (143) set IMAP_TLS=starttls'
          : 'check IMAP_TLS and IMAP_PORT (implicit TLS on 993, STARTTLS on 143); with starttls the server must offer STARTTLS',
    });
  }
  if (TIMEOUT_CODES.has(code)) {
    return new InboxError(
      'IMAP_TIMEOUT',
      'operational',
      `the IMAP server ${where} did not answer in time (${code})`,
      {
        cause: err,
        details,
        hint: 'the watcher reconnects by itself; if it keeps happening check the network and IMAP_HOST/IMAP_PORT',
      },
    );
  }
  if (CONNECT_CODES.has(code)) {
    return new InboxError('IMAP_CONNECT', 'operational', `cannot reach the IMAP server ${where} (${code})`, {
      cause: err,
      details,
      hint:
        code === 'ENOTFOUND'
          ? 'check IMAP_HOST: the name does not resolve'
          : code === 'ECONNREFUSED'
            ? 'is the server running, and is IMAP_PORT right (993 implicit TLS, 143 plain/STARTTLS)?'
            : 'the watcher reconnects by itself with backoff',
    });
  }
  if (facts.mailboxMissing === true || responseCode === 'NONEXISTENT') {
    return new InboxError(
      'IMAP_MAILBOX',
      'user',
      `the mailbox ${settings.mailbox} does not exist on ${where}`,
      {
        cause: err,
        details,
        hint: 'check IMAP_MAILBOX (folder names are case-sensitive except INBOX; Gmail labels look like `[Gmail]/All Mail`)',
      },
    );
  }
  return new InboxError(
    'IMAP_PROTOCOL',
    'operational',
    `IMAP error from ${where}: ${message}${str(facts.responseText) === undefined ? '' : ` (${str(facts.responseText) ?? ''})`}`,
    {
      cause: err,
      details,
    },
  );
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 for the first): exponential with "equal jitter"
 * (half fixed, half random), so many watchers restarted together do not reconnect in lockstep.
 */
export function reconnectDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Which backoff applies after an error. A refused login retries slowly: providers lock accounts
 * after repeated failed logins (Gmail, Outlook), and a wrong password will not fix itself soon.
 */
export function backoffFor(
  error: InboxError | null,
  fast: BackoffPolicy,
  slow: BackoffPolicy,
): BackoffPolicy {
  if (error === null) return fast;
  if (
    (error.code === 'IMAP_AUTH' && error.kind === 'user') ||
    error.code === 'IMAP_TLS' ||
    error.code === 'IMAP_MAILBOX' ||
    error.code === 'IMAP_KEYWORD'
  ) {
    return slow;
  }
  return fast;
}
