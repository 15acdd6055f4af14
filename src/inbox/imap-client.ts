import { rootCertificates } from 'node:tls';
import { ImapFlow, type ImapFlowOptions, type Logger as ImapFlowLogger } from 'imapflow';
import type { Logger } from '../shared/logger.js';
import { TIMED_OUT, within } from '../shared/timeout.js';
import type { ImapSettings } from './imap-settings.js';

export interface ImapClientOptions {
  /** Our logger; imapflow's lines go to a child of it (`component: imapflow`). */
  readonly logger: Logger;
  /** OAuth2 access token to log in with: required with refresh-token settings, else overrides IMAP_ACCESS_TOKEN. */
  readonly accessToken?: string;
  /** Extra imapflow options (timeouts, IDLE behaviour). */
  readonly overrides?: Partial<ImapFlowOptions>;
}

/**
 * imapflow's lines as a child of our logger (`component: imapflow`, with its `cid`). It logs
 * every command at debug and connection events at info: both become debug. It logs every failed
 * command at error, including ones we expect and handle (a refused login that is retried, a
 * missing folder that is then created): those become debug too — the inbox itself logs every
 * failure it acts on, at the level it deserves ("only the final failed attempt is an error").
 */
export function imapflowLogger(parent: Logger): ImapFlowLogger {
  const child = parent.child({ component: 'imapflow' });
  return {
    trace: (obj: unknown) => {
      child.trace(obj);
    },
    debug: (obj: unknown) => {
      child.debug(obj);
    },
    info: (obj: unknown) => {
      child.debug(obj);
    },
    warn: (obj: unknown) => {
      child.warn(obj);
    },
    error: (obj: unknown) => {
      child.debug(obj);
    },
  };
}

/**
 * A new, unconnected ImapFlow for the settings. Always a new one: an ImapFlow instance is
 * single-use (it refuses a second `connect()`), so every (re)connect builds its own.
 *
 * imapflow's own log lines land in our one pino stream (see {@link imapflowLogger}).
 */
export function createImapClient(settings: ImapSettings, options: ImapClientOptions): ImapFlow {
  const logger = imapflowLogger(options.logger);
  const a = settings.auth;
  if ('oauth2' in a && options.accessToken === undefined) {
    // A wiring mistake, not a configuration one: every caller turns the refresh token into one.
    throw new Error('OAuth2 refresh-token login needs an access token from OAuth2TokenSource');
  }
  const auth =
    options.accessToken !== undefined
      ? { user: a.user, accessToken: options.accessToken }
      : 'accessToken' in a
        ? { user: a.user, accessToken: a.accessToken }
        : { user: a.user, pass: 'pass' in a ? a.pass : '' };
  return new ImapFlow({
    host: settings.host,
    port: settings.port,
    // implicit: TLS from the first byte (RFC 8314 §3.3, port 993). starttls: plain connection
    // upgraded with STARTTLS (RFC 3501 §6.2.1), and imapflow refuses to go on if the server
    // cannot — never a silent fall back to cleartext. none: cleartext (loopback test servers).
    secure: settings.tls === 'implicit',
    doSTARTTLS: settings.tls === 'starttls' ? true : settings.tls === 'none' ? false : undefined,
    // Node's `ca` replaces the public roots: IMAP_CA_FILE adds to them instead.
    ...(settings.ca === null ? {} : { tls: { ca: [...rootCertificates, settings.ca] } }),
    auth,
    logger,
    clientInfo: { name: 'isw-ko' },
    // A dead peer must not hang a connect attempt for imapflow's default 90 s.
    connectionTimeout: 30_000,
    ...options.overrides,
  });
}

/**
 * Await an IMAP call for at most `ms`. A connection whose peer vanished (a NAT that dropped it,
 * a server killed without a FIN) leaves commands waiting until the socket timeout, minutes later;
 * past the deadline the caller treats the connection as dead and reconnects.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const result = await within(promise, ms);
  if (result !== TIMED_OUT) return result;
  throw Object.assign(new Error(`${what} got no answer within ${ms} ms`), { code: 'ETIMEOUT' });
}
