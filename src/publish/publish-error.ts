import { AppError, type ErrorKind } from '../shared/app-error.js';

/**
 * Why a post could not be rendered or published. Transient board trouble (`operational`) is
 * retried with backoff; everything else is permanent for the same input and must not waste retries.
 */
export type PublishErrorCode =
  /** The board could not be reached or answered 5xx/429, or the disk was momentarily unavailable. */
  | 'BOARD_UNAVAILABLE'
  /** The board refused the post (4xx other than auth): the same post will be refused again. */
  | 'BOARD_REJECTED'
  /** The board refused our credentials. */
  | 'BOARD_AUTH_FAILED'
  /** The board's configuration cannot work (a directory that is not writable, a bad URL). */
  | 'BOARD_MISCONFIGURED'
  /** The board holds a record for this post that cannot be read (edited or damaged by hand). */
  | 'BOARD_CORRUPT'
  /** An update named a post the board does not have (deleted on the board, say). */
  | 'POST_NOT_FOUND'
  /** The rendered post failed the final safety check (markup, scripts, tracking links, addresses). */
  | 'UNSAFE_CONTENT'
  /** A template is missing or does not compile or render. */
  | 'TEMPLATE_INVALID';

const KINDS: Record<PublishErrorCode, ErrorKind> = {
  BOARD_UNAVAILABLE: 'operational',
  BOARD_REJECTED: 'user',
  BOARD_AUTH_FAILED: 'user',
  BOARD_MISCONFIGURED: 'user',
  BOARD_CORRUPT: 'user',
  POST_NOT_FOUND: 'user',
  UNSAFE_CONTENT: 'user',
  TEMPLATE_INVALID: 'user',
};

const HINTS: Record<PublishErrorCode, string> = {
  BOARD_UNAVAILABLE:
    'the board is down or unreachable; the job is retried, check the board if it keeps failing',
  BOARD_REJECTED:
    "read the board's answer in the error details; fix the post or the board's settings, then retry",
  BOARD_AUTH_FAILED: "check the board account's user name and password (or token) in the configuration",
  BOARD_MISCONFIGURED: 'check BOARD_DIR (or the board URL): it must exist or be creatable and be writable',
  BOARD_CORRUPT: "the board's record of this post cannot be read; fix or delete the named file, then retry",
  POST_NOT_FOUND: 'the post was removed from the board; publish it again instead of updating it',
  UNSAFE_CONTENT:
    'the rendered post contains markup or data that must not be published; see `problems` in the details and report it as a template or parser bug',
  TEMPLATE_INVALID:
    'check the named file under the templates directory (run isw-ko from the project directory)',
};

/** A typed publishing failure; classify it by `code` (and `kind`), never by its message. */
export class PublishError extends AppError {
  override readonly name = 'PublishError';
  declare readonly code: PublishErrorCode;

  constructor(
    code: PublishErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super(code, KINDS[code], message, { ...options, hint: options.hint ?? HINTS[code] });
  }
}
