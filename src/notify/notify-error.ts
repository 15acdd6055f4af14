import { AppError, type ErrorKind } from '../shared/app-error.js';

/**
 * Why something in the notify stage failed. `operational` codes are worth retrying later; the
 * others are permanent for the same input and must not waste retries (STYLE.md, "Errors").
 */
export type NotifyErrorCode =
  /** Not an address we can mail (syntax, length, a quoted or non-ASCII local part). */
  | 'INVALID_ADDRESS'
  /** A delivery mode other than `immediate` or `daily`. */
  | 'INVALID_MODE'
  /** A subscriber CSV that cannot be read at all (no address column, say). */
  | 'CSV_INVALID'
  | 'SUBSCRIBER_NOT_FOUND'
  /** An admin tried to re-add someone who unsubscribed or bounced, without `--force`. */
  | 'SUBSCRIBER_OPTED_OUT'
  /** A confirm or unsubscribe token that is malformed, forged, for another purpose or address. */
  | 'TOKEN_INVALID'
  /** A confirm token older than its lifetime. */
  | 'TOKEN_EXPIRED'
  /** A template is missing or does not compile or render. */
  | 'TEMPLATE_INVALID'
  /** A report (or its summary) named in a digest is not in the store. */
  | 'REPORT_NOT_FOUND'
  /** A report asked to be mailed that is not on the boards (not posted yet, or held). */
  | 'NOT_PUBLISHED'
  /** The SMTP server answered 4xx or the connection failed: try again later. */
  | 'SMTP_TRANSIENT'
  /** The SMTP server refused the recipient for good (5xx on RCPT, or 5.1.x/5.2.x at DATA). */
  | 'SMTP_RECIPIENT_REJECTED'
  /** The SMTP server refused this message for good, not the address (content, policy). */
  | 'SMTP_MESSAGE_REJECTED'
  /** Our side is wrong: authentication, the sender address, TLS. Every message will fail alike. */
  | 'SMTP_CONFIG'
  /** The outbox directory cannot be written. */
  | 'OUTBOX_UNWRITABLE'
  /** No TOKEN_SECRET in production. */
  | 'SECRET_MISSING'
  /** Mail settings that cannot work together (checked at start-up). */
  | 'SETTINGS_INVALID';

const KINDS: Record<NotifyErrorCode, ErrorKind> = {
  INVALID_ADDRESS: 'user',
  INVALID_MODE: 'user',
  CSV_INVALID: 'user',
  SUBSCRIBER_NOT_FOUND: 'user',
  SUBSCRIBER_OPTED_OUT: 'user',
  TOKEN_INVALID: 'user',
  TOKEN_EXPIRED: 'user',
  TEMPLATE_INVALID: 'user',
  REPORT_NOT_FOUND: 'user',
  NOT_PUBLISHED: 'user',
  SMTP_TRANSIENT: 'operational',
  SMTP_RECIPIENT_REJECTED: 'user',
  SMTP_MESSAGE_REJECTED: 'user',
  SMTP_CONFIG: 'user',
  OUTBOX_UNWRITABLE: 'user',
  SECRET_MISSING: 'user',
  SETTINGS_INVALID: 'user',
};

const HINTS: Record<NotifyErrorCode, string> = {
  INVALID_ADDRESS: 'check the address for typos; only plain ASCII local parts (before the @) are accepted',
  INVALID_MODE: 'use `immediate` (one email per report) or `daily` (one digest a day)',
  CSV_INVALID:
    'the file needs a header row with an `address` (or `email`) column, optionally `name` and `mode`',
  SUBSCRIBER_NOT_FOUND: 'check the address with `isw-ko subscribers list`',
  SUBSCRIBER_OPTED_OUT:
    'this person unsubscribed or bounced; they can subscribe again themselves, or pass --force if they asked you to',
  TOKEN_INVALID:
    'use the link from the most recent email; links cannot be edited or moved to another address',
  TOKEN_EXPIRED: 'the confirmation link is too old: subscribe again to get a new one',
  TEMPLATE_INVALID:
    'check the named file under the templates directory (run isw-ko from the project directory)',
  REPORT_NOT_FOUND: 'check the report id with `isw-ko jobs` or the board; it must be summarised first',
  NOT_PUBLISHED:
    'subscribers are mailed when it is published: release it (`isw-ko unhold <id>`) or run `isw-ko reprocess <id> --from publish`',
  SMTP_TRANSIENT: 'the mail server is busy or unreachable; the job is retried with backoff',
  SMTP_RECIPIENT_REJECTED:
    'the mail server says this mailbox does not exist or cannot receive; after BOUNCE_LIMIT such answers the subscriber is marked bounced',
  SMTP_MESSAGE_REJECTED:
    "the mail server refused the message itself (content or policy): read its answer in the error details and check the sender's SPF/DKIM/DMARC",
  SMTP_CONFIG:
    'check SMTP_URL (user, password, port, TLS) and MAIL_FROM: the server refuses us, not the recipient',
  OUTBOX_UNWRITABLE: 'OUTBOX_DIR (default DATA_DIR/outbox) must exist or be creatable and be writable',
  SECRET_MISSING:
    'set TOKEN_SECRET to a random string of at least 32 characters, e.g. `openssl rand -base64 48`',
  SETTINGS_INVALID: 'fix the mail settings named in the message, then start again',
};

/** A typed notify failure; classify it by `code` (and `kind`), never by its message. */
export class NotifyError extends AppError {
  override readonly name = 'NotifyError';
  declare readonly code: NotifyErrorCode;

  constructor(
    code: NotifyErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super(code, KINDS[code], message, { ...options, hint: options.hint ?? HINTS[code] });
  }
}
