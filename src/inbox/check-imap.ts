import { pino } from 'pino';
import type { Logger } from '../shared/logger.js';
import { createImapClient, withDeadline } from './imap-client.js';
import type { AccessTokenProvider } from './oauth2.js';
import { classifyImapError } from './imap-errors.js';
import { describeImap, type ImapSettings } from './imap-settings.js';

/** The answer `isw-ko doctor` prints for the IMAP inbox. */
export interface ImapCheck {
  readonly ok: boolean;
  /** One line: what was found. */
  readonly message: string;
  /** What to do about it, when something is wrong (or could be better). */
  readonly hint: string | null;
  /** Machine-readable facts (never secrets). */
  readonly details: {
    readonly code?: string;
    readonly idle?: boolean;
    readonly capabilities?: readonly string[];
    readonly messages?: number;
    readonly uidValidity?: string;
  };
}

/**
 * Log in, look at the capabilities (IDLE, RFC 2177), open the watched mailbox and check that
 * processed mail can be marked (the keyword is allowed, or the target folder exists). Never
 * throws: every failure becomes `{ ok: false }` with the setting to fix.
 */
export async function checkImap(
  settings: ImapSettings,
  options: {
    readonly logger?: Logger;
    readonly timeoutMs?: number;
    /** With OAuth2 refresh-token settings: where the access token comes from (`accessTokenProviderFor`). */
    readonly accessToken?: AccessTokenProvider;
  } = {},
): Promise<ImapCheck> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const logger = options.logger ?? pino({ level: 'silent' });
  const where = describeImap(settings);
  let token: string | undefined;
  try {
    token = await options.accessToken?.();
  } catch (err) {
    const e = classifyImapError(err, settings);
    return { ok: false, message: `${where}: ${e.message}`, hint: e.hint ?? null, details: { code: e.code } };
  }
  const client = createImapClient(settings, {
    logger,
    ...(token === undefined ? {} : { accessToken: token }),
    overrides: { disableAutoIdle: true, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs },
  });
  client.on('error', (err: Error) => {
    logger.debug({ err }, 'IMAP error during the doctor check');
  });
  try {
    await withDeadline(client.connect(), timeoutMs, 'connect');
    const capabilities = [...client.capabilities.keys()];
    const idle = client.capabilities.has('IDLE');
    // SELECT, not EXAMINE: a read-only open reports no PERMANENTFLAGS (RFC 3501 §6.3.2).
    const box = await withDeadline(client.mailboxOpen(settings.mailbox), timeoutMs, 'SELECT');
    const facts = { idle, capabilities, messages: box.exists, uidValidity: box.uidValidity.toString() };
    const p = settings.processed;
    if (p.kind === 'flag') {
      const permanent = box.permanentFlags;
      if (permanent !== undefined && !permanent.has('\\*') && !permanent.has(p.flag)) {
        return {
          ok: false,
          message: `logged in to ${where}, but the server does not allow the keyword ${p.flag}`,
          hint: 'set IMAP_PROCESSED=move:FOLDER (e.g. move:ISW/Processed) or IMAP_PROCESSED=flag:\\Seen',
          details: { ...facts, code: 'IMAP_KEYWORD' },
        };
      }
    } else {
      const list = await withDeadline(client.list(), timeoutMs, 'LIST');
      if (!list.some((m) => m.path === p.folder)) {
        return {
          ok: true,
          message: `logged in to ${where}; the folder ${p.folder} does not exist yet and will be created on start`,
          hint: null,
          details: facts,
        };
      }
    }
    const push = idle
      ? settings.idle
        ? 'IDLE supported: new mail is seen within a second'
        : `IDLE supported but IMAP_IDLE=false: polling every ${settings.pollMs} ms`
      : `no IDLE: polling every ${settings.pollMs} ms`;
    return {
      ok: true,
      message: `logged in to ${where}: ${box.exists} messages; ${push}`,
      hint:
        idle || settings.pollMs <= 60_000
          ? null
          : 'this server has no IDLE: lower IMAP_POLL_MS for quicker pickup',
      details: facts,
    };
  } catch (err) {
    const e = classifyImapError(err, settings);
    return { ok: false, message: `${where}: ${e.message}`, hint: e.hint ?? null, details: { code: e.code } };
  } finally {
    try {
      if (client.usable) await withDeadline(client.logout(), 5_000, 'LOGOUT');
    } catch (err) {
      logger.debug({ err }, 'logout after the doctor check failed');
    } finally {
      client.close();
    }
  }
}
