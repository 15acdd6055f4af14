import type { Env } from '../config/index.js';
import type { ParseOptions } from '../parse/index.js';

/** The parser's slice of the configuration. */
export function parseOptionsFrom(env: Env): ParseOptions {
  return {
    iswDomains: env.ISW_SENDER_DOMAINS,
    maxMessageBytes: env.PARSE_MAX_MESSAGE_BYTES,
    timeoutMs: env.PARSE_TIMEOUT_MS,
  };
}
