import { AppError, type AppErrorOptions, type ErrorKind } from '../shared/app-error.js';

/**
 * Stable codes of the inbox's own errors. Classify by these, never by message text.
 * - `IMAP_CONNECT`: the server cannot be reached (refused, DNS, timeout) — operational, retried.
 * - `IMAP_TLS`: the TLS handshake or STARTTLS upgrade failed — configuration, retried slowly.
 * - `IMAP_AUTH`: login refused — usually configuration, retried slowly (servers also refuse
 *   transiently: "[UNAVAILABLE]", auth back-end timeouts).
 * - `IMAP_MAILBOX`: the watched mailbox (or the "processed" folder) does not exist.
 * - `IMAP_KEYWORD`: the server does not let us set the "processed" keyword (RFC 3501 §7.1,
 *   PERMANENTFLAGS without `\*`).
 * - `IMAP_TIMEOUT`: a command got no answer in time; the connection is taken for dead.
 * - `IMAP_PROTOCOL`: anything else the server or the library raised.
 * - `HELD_NOT_FOUND`: no held message with that id.
 */
export type InboxErrorCode =
  | 'IMAP_CONNECT'
  | 'IMAP_TLS'
  | 'IMAP_AUTH'
  | 'IMAP_MAILBOX'
  | 'IMAP_KEYWORD'
  | 'IMAP_TIMEOUT'
  | 'IMAP_PROTOCOL'
  | 'HELD_NOT_FOUND';

/** An error of the inbox stage: an {@link AppError} with one of the {@link InboxErrorCode}s. */
export class InboxError extends AppError {
  override readonly name = 'InboxError';
  declare readonly code: InboxErrorCode;

  constructor(code: InboxErrorCode, kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    super(code, kind, message, options);
  }
}
