import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { CONFIG_ERRNOS } from '../shared/fs-errors.js';
import type { Logger } from '../shared/logger.js';
import { NotifyError } from './notify-error.js';

/** A display name and an address. */
export interface MailAddress {
  readonly name: string | null;
  readonly address: string;
}

/** One email, transport-neutral. */
export interface OutgoingMail {
  readonly from: MailAddress;
  readonly to: MailAddress;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /**
   * Without angle brackets. Deterministic per (digest, subscriber): if a crash ever makes us send
   * the same email twice (RFC 1047), the copies share a Message-ID and mail stores that collapse
   * duplicates (Gmail does) show one.
   */
  readonly messageId: string;
  /**
   * List-Unsubscribe targets (RFC 2369) with one-click (RFC 8058); omit for transactional mail.
   * `mailto` null: the header carries the https URL alone (no mailbox reads unsubscribe mail).
   */
  readonly unsubscribe?: { readonly url: string; readonly mailto: string | null };
  /** List-Id (RFC 2919): lets readers filter our mail. */
  readonly listId?: { readonly id: string; readonly name: string };
  /**
   * The same `text` and `html`, already encoded as MIME parts (header and quoted-printable body, see
   * encoded-body.ts). When set, they are sent as they are instead of being encoded again.
   */
  readonly encodedParts?: { readonly text: string; readonly html: string };
}

/** What a transport did with a message. */
export interface SendResult {
  readonly messageId: string;
  /** The SMTP server's final reply ("250 2.0.0 Ok: queued as …"), or the outbox file written. */
  readonly response: string;
  readonly transport: 'smtp' | 'outbox';
  readonly file: string | null;
}

/** Sends mail. Errors carry nodemailer's `responseCode`, `command`, `code` for `classifyDeliveryError`. */
export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<SendResult>;
  /** Check the server answers and accepts our credentials (start-up, `isw-ko doctor`). */
  verify(): Promise<void>;
  /** Close pooled connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * "ISW 브리핑 <briefing@example.org>" or "briefing@example.org" → name and address. MAIL_FROM is
 * validated in config; this only splits it.
 */
export function parseMailbox(text: string): MailAddress {
  const m = /^\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text);
  if (m === null) return { name: null, address: text.trim() };
  const name = (m[1] ?? '').replace(/^"(.*)"$/, '$1').trim();
  return { name: name === '' ? null : name, address: m[2] ?? '' };
}

/** The domain of an address (for Message-IDs). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * nodemailer's message options for a mail (pure; the bench's baseline sends exactly this).
 *
 * The unsubscribe headers, as Gmail and Yahoo require of bulk senders since 2024:
 * - `List-Unsubscribe: <https://…/unsubscribe?token=…>, <mailto:…?subject=unsubscribe%20…>`
 *   (RFC 2369: angle-bracketed URIs, comma-separated, in order of preference); the `mailto:` only
 *   when a mailbox the bot watches reads it, since a client that prefers it would otherwise send a
 *   request nobody ever sees;
 * - `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 §3.1): the mail client POSTs that
 *   body to the HTTPS URI, no login, no confirmation page.
 * RFC 8058 §4 also wants both headers covered by a DKIM signature: that is the SMTP relay's job
 * (sign with `h=` including them).
 */
export function toMessageOptions(mail: OutgoingMail): SendMailOptions {
  const options: SendMailOptions = {
    from: mail.from.name === null ? mail.from.address : { name: mail.from.name, address: mail.from.address },
    to: mail.to.name === null ? mail.to.address : { name: mail.to.name, address: mail.to.address },
    subject: mail.subject,
    html: mail.encodedParts === undefined ? mail.html : { raw: mail.encodedParts.html },
    text: mail.encodedParts === undefined ? mail.text : { raw: mail.encodedParts.text },
    messageId: `<${mail.messageId}>`,
    // The HTML is ours, but nothing in an email should ever make nodemailer read a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  const list: NonNullable<SendMailOptions['list']> = {};
  if (mail.unsubscribe !== undefined) {
    // One header with both URIs (an inner array), folded by nodemailer between them, never inside.
    const { url, mailto } = mail.unsubscribe;
    list.unsubscribe = [[{ url }, ...(mailto === null ? [] : [{ url: mailto }])]];
    options.headers = { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
  }
  if (mail.listId !== undefined) list.id = { url: mail.listId.id, comment: mail.listId.name };
  if (Object.keys(list).length > 0) options.list = list;
  return options;
}

export interface SmtpMailerOptions {
  /** smtp:// or smtps:// with credentials (SMTP_URL). */
  readonly url: string;
  /** Connections kept open (MAIL_POOL_SIZE). */
  readonly poolSize: number;
  readonly logger?: Logger;
  /**
   * Inactivity timeout of one connection. The send job's lock must outlast it (and the connection
   * and greeting timeouts), or a job waiting on a slow server is taken for stalled and run twice.
   */
  readonly socketTimeoutMs?: number;
}

/** Timeouts of the SMTP mailer, together: the send worker's lock is derived from their sum. */
export const SMTP_TIMEOUTS_MS = { connection: 30_000, greeting: 30_000, socket: 60_000 } as const;

/**
 * nodemailer's pooled SMTP transport: `poolSize` connections reused across messages (an SMTP
 * session per message would cost a TCP and TLS handshake each). Rate limiting is not done here but
 * by the BullMQ limiter of the send queue, which holds across every worker process.
 */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const transport = nodemailer.createTransport({
    pool: true,
    url: options.url,
    maxConnections: options.poolSize,
    // Reconnect now and then: some servers (Exchange, SES) close long sessions on their own.
    maxMessages: 500,
    connectionTimeout: SMTP_TIMEOUTS_MS.connection,
    greetingTimeout: SMTP_TIMEOUTS_MS.greeting,
    socketTimeout: options.socketTimeoutMs ?? SMTP_TIMEOUTS_MS.socket,
    // nodemailer logs each message at info; keep that at debug level in our stream.
    logger:
      options.logger === undefined ? false : nodemailerLogger(options.logger.child({ component: 'smtp' })),
  });
  let closed = false;
  return {
    kind: 'smtp',
    async send(mail) {
      const info = await transport.sendMail(toMessageOptions(mail));
      return { messageId: mail.messageId, response: info.response, transport: 'smtp', file: null };
    },
    async verify() {
      await transport.verify();
    },
    close() {
      if (!closed) {
        closed = true;
        transport.close();
      }
      return Promise.resolve();
    },
  };
}

/**
 * nodemailer's info lines are per message: log them at debug. Its errors are per attempt too (a
 * greylisting 451 is one): they go out at warn, because the send job decides what is an error —
 * it logs a failure for good at error level, and a retry at warn.
 */
function nodemailerLogger(log: Logger): Record<string, (...args: unknown[]) => void> {
  const at =
    (level: 'trace' | 'debug' | 'warn' | 'error' | 'fatal') =>
    (...args: unknown[]): void => {
      const write: (...a: unknown[]) => void = log[level].bind(log);
      write(...args);
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('debug'),
    warn: at('warn'),
    error: at('warn'),
    fatal: at('error'),
  };
}

let rawTransport: ReturnType<typeof createRawTransport> | null = null;
const createRawTransport = () =>
  nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

/** The message exactly as it would go over SMTP (CRLF line ends), built by nodemailer. */
export async function buildRawMessage(mail: OutgoingMail): Promise<Buffer> {
  rawTransport ??= createRawTransport();
  const info = await rawTransport.sendMail(toMessageOptions(mail));
  if (!Buffer.isBuffer(info.message)) throw new Error('the stream transport returned no buffer');
  return info.message;
}

export interface OutboxMailerOptions {
  /** OUTBOX_DIR (default DATA_DIR/outbox). */
  readonly dir: string;
}

/**
 * The embedded default with no SMTP server: every message is built by nodemailer exactly as it
 * would be sent and written to `<dir>/<message-id>.eml`, which any mail client opens. The file name
 * comes from the Message-ID, so writing the same email again replaces it rather than adding a copy;
 * the write is atomic (temporary file, fsync, rename) so a crash never leaves half a message.
 */
export function createOutboxMailer(options: OutboxMailerOptions): Mailer {
  const dir = path.resolve(options.dir);
  let made: Promise<unknown> | null = null;
  return {
    kind: 'outbox',
    async send(mail) {
      const raw = await buildRawMessage(mail);
      const file = path.join(dir, `${mail.messageId.replace(/[^A-Za-z0-9._-]+/g, '_')}.eml`);
      try {
        made ??= mkdir(dir, { recursive: true });
        await made;
        await writeBytesAtomic(file, raw);
      } catch (err) {
        made = null;
        const errno = (err as NodeJS.ErrnoException).code ?? '';
        if (CONFIG_ERRNOS.has(errno)) {
          throw new NotifyError('OUTBOX_UNWRITABLE', `cannot write ${file}: ${errno}`, {
            cause: err,
            details: { dir },
          });
        }
        throw err;
      }
      return { messageId: mail.messageId, response: `written to ${file}`, transport: 'outbox', file };
    },
    async verify() {
      await mkdir(dir, { recursive: true });
    },
    close() {
      return Promise.resolve();
    },
  };
}

async function writeBytesAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(data);
      // Without fsync a power cut after the rename can leave an empty file under the final name.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** SMTP when SMTP_URL is set, else the outbox. */
export function createMailer(
  settings: { readonly smtpUrl: string | null; readonly poolSize: number; readonly outboxDir: string },
  logger?: Logger,
): Mailer {
  if (settings.smtpUrl !== null) {
    return createSmtpMailer({
      url: settings.smtpUrl,
      poolSize: settings.poolSize,
      ...(logger === undefined ? {} : { logger }),
    });
  }
  return createOutboxMailer({ dir: settings.outboxDir });
}
