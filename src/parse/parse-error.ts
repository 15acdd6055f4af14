import { AppError } from '../shared/app-error.js';

/** Why an email could not be turned into a report. Every code is permanent: the same bytes fail the same way. */
export type ParseErrorCode =
  'EMPTY_MESSAGE' | 'MESSAGE_TOO_LARGE' | 'MALFORMED_MIME' | 'NO_TEXT' | 'INVALID_CHARSET' | 'PARSE_TIMEOUT';

const HINTS: Record<ParseErrorCode, string> = {
  EMPTY_MESSAGE: 'the file or IMAP message has no bytes; check what was saved or fetched',
  MESSAGE_TOO_LARGE: 'raise PARSE_MAX_MESSAGE_BYTES if such mail is expected',
  MALFORMED_MIME: 'the message is not a well-formed RFC 5322/MIME email; open it in a mail client to check',
  NO_TEXT: 'the message has no readable text or HTML part; nothing can be summarised',
  INVALID_CHARSET:
    'the sender declared a character set the text is not in; ask them, or re-save the message as UTF-8',
  PARSE_TIMEOUT: 'raise PARSE_TIMEOUT_MS, or report the message as a parser bug',
};

/** A typed parse failure: `code` says what is wrong; the parser never throws anything else. */
export class ParseError extends AppError {
  override readonly name = 'ParseError';
  declare readonly code: ParseErrorCode;

  constructor(
    code: ParseErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, 'user', message, { ...options, hint: HINTS[code] });
  }
}
