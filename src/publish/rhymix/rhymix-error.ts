import { AppError, type ErrorKind } from '../../shared/app-error.js';

/**
 * Why a Rhymix/XE board did not take a post. Codes are stable (job records and admin pages show
 * them); classify by code or `kind`, never by the message, which quotes the board's Korean text.
 */
export type RhymixErrorCode =
  /** The board could not be reached, timed out, or answered 5xx/429: the queue retries. */
  | 'BOARD_UNAVAILABLE'
  /** The member id or password was refused (also after a fresh page and a second try). */
  | 'BOARD_AUTH_FAILED'
  /** The board wants a captcha for this member: a bot cannot post there. */
  | 'BOARD_CAPTCHA_REQUIRED'
  /** The member may not write on this board, or may not edit this document (any more). */
  | 'BOARD_PERMISSION_DENIED'
  /** The post holds something the board refuses (`ERR_UNSAFE_VAR`) or our own check refused it. */
  | 'BOARD_UNSAFE_CONTENT'
  /** The post is larger than the board accepts (title length or `document_length_limit`). */
  | 'BOARD_TOO_LARGE'
  /** The configured category is not on the board (or none is configured where one is required). */
  | 'BOARD_CATEGORY_MISSING'
  /** The spam filter refused the post: posts came too close together from this IP. */
  | 'BOARD_SPAM_LIMITED'
  /** The spam filter has banned this host's IP: nothing is posted until the board's admin lifts it. */
  | 'BOARD_IP_BANNED'
  /** The board's CSRF check kept failing after a fresh token: Origin/Referer do not match the site. */
  | 'BOARD_CSRF_FAILED'
  /** The URL does not answer like a Rhymix/XE board (HTML instead of JSON, 404, a redirect). */
  | 'BOARD_MISCONFIGURED'
  /** An edit named a document the board no longer has. */
  | 'POST_NOT_FOUND'
  /** The board refused twice for a reason it did not name in a machine-readable way. */
  | 'BOARD_REJECTED';

/**
 * Only an unreachable board is worth retrying from the queue. Every other answer is the board's
 * considered refusal of the same request: retrying wastes attempts and, for new posts, counts
 * towards the spam filter's automatic IP ban (3 tries, RHYMIX.md).
 */
const KINDS: Readonly<Record<RhymixErrorCode, ErrorKind>> = {
  BOARD_UNAVAILABLE: 'operational',
  BOARD_AUTH_FAILED: 'user',
  BOARD_CAPTCHA_REQUIRED: 'user',
  BOARD_PERMISSION_DENIED: 'user',
  BOARD_UNSAFE_CONTENT: 'user',
  BOARD_TOO_LARGE: 'user',
  BOARD_CATEGORY_MISSING: 'user',
  BOARD_SPAM_LIMITED: 'user',
  BOARD_IP_BANNED: 'user',
  BOARD_CSRF_FAILED: 'user',
  BOARD_MISCONFIGURED: 'user',
  POST_NOT_FOUND: 'user',
  BOARD_REJECTED: 'user',
};

const HINTS: Readonly<Record<RhymixErrorCode, string>> = {
  BOARD_UNAVAILABLE: 'the board is down or slow; the job is retried, check RHYMIX_URL if it keeps failing',
  BOARD_AUTH_FAILED:
    'check RHYMIX_USER and RHYMIX_PASSWORD (log in on the board with them in a browser); the member may also be limited or need a login captcha',
  BOARD_CAPTCHA_REQUIRED:
    "a bot cannot solve the board's captcha: ask the board's admin to exempt this member (spam filter → captcha settings) or to make it a board manager",
  BOARD_PERMISSION_DENIED:
    "give the member the board's write permission (board settings → permissions); for edits, the board may lock documents after comments or days",
  BOARD_UNSAFE_CONTENT:
    'the post holds markup a non-admin member may not post (<?, <%, <script, class); report it as a template bug',
  BOARD_TOO_LARGE:
    "raise the board's document size limit (board settings → document_length_limit) or RHYMIX_MAX_CONTENT_KB if it is set lower than the board's",
  BOARD_CATEGORY_MISSING: "set RHYMIX_CATEGORY to one of the board's categories (by name)",
  BOARD_SPAM_LIMITED:
    "the board's spam filter counts every post and edit from this IP (10 s and 3 tries by default, each site sets its own) and bans the IP when they come too close: keep RHYMIX_MIN_INTERVAL_MS above the board's interval (one RHYMIX_* spacer shared by every process posting from this host), then retry the job",
  BOARD_IP_BANNED:
    "ask the board's admin to remove this host's IP from the spam filter's denied IPs (관리 → 스팸필터 → 스팸 IP 목록), or to make the member a board manager (exempt from the filter); raise RHYMIX_MIN_INTERVAL_MS above the board's spam interval, then retry the job",
  BOARD_CSRF_FAILED:
    "set RHYMIX_URL to the site's own address (the default URL in the board's admin settings, same scheme, host and port); for XE 1.x set RHYMIX_FLAVOR=xe",
  BOARD_MISCONFIGURED:
    'check RHYMIX_URL (the site root, where index.php lives) and RHYMIX_MID (the board id in its address), and RHYMIX_FLAVOR',
  POST_NOT_FOUND: 'the post was deleted on the board; publish it again instead of updating it',
  BOARD_REJECTED:
    "the board refused the post twice; its message (in the details) says why — common causes are the spam filter, the board's size limit and edit locks",
};

/** Facts about a board answer, kept on the error for logs and the admin pages (never secrets). */
export interface RhymixErrorDetails {
  /** The action that failed (`procBoardInsertDocument`…). */
  readonly act?: string;
  /** The board's `error` number (-1, -2), when it answered. */
  readonly boardError?: number;
  /** The board's message, localised, for people only. */
  readonly boardMessage?: string;
  /** `errorDetail` (`ERR_CSRF_CHECK_FAILED`, `ERR_UNSAFE_VAR`), when the board gave one. */
  readonly errorDetail?: string;
  readonly httpStatus?: number;
  readonly [key: string]: unknown;
}

/** A typed Rhymix/XE failure; `kind` follows from `code` (user = permanent, operational = retry). */
export class RhymixError extends AppError {
  override readonly name = 'RhymixError';
  declare readonly code: RhymixErrorCode;
  declare readonly details: RhymixErrorDetails;

  constructor(
    code: RhymixErrorCode,
    message: string,
    options: { cause?: unknown; details?: RhymixErrorDetails; hint?: string } = {},
  ) {
    super(code, KINDS[code], message, { ...options, hint: options.hint ?? HINTS[code] });
  }
}

/** Narrow an unknown thrown value to a {@link RhymixError}, optionally of one code. */
export function isRhymixError(value: unknown, code?: RhymixErrorCode): value is RhymixError {
  return value instanceof RhymixError && (code === undefined || value.code === code);
}
