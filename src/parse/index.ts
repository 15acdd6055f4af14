export { parseEmail, DEFAULT_PARSE_OPTIONS, type ParseOptions } from './parse-email.js';
export { ParseError, type ParseErrorCode } from './parse-error.js';
export { CHROME_STRINGS } from './chrome.js';
export type { Report, ReportLink, ReportLinkKind, Paragraph, Mailbox, ReportSource } from './report.js';
