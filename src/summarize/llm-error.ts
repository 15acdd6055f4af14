import { AppError, type AppErrorOptions, type ErrorKind } from '../shared/app-error.js';

/** Why a summary could not be made. Classify by this code, never by the message. */
export type LlmErrorCode =
  | 'LLM_RATE_LIMITED'
  | 'LLM_UNAVAILABLE'
  | 'LLM_TIMEOUT'
  | 'LLM_AUTH'
  | 'LLM_MODEL_NOT_FOUND'
  | 'LLM_REQUEST_REJECTED'
  | 'LLM_INVALID_ANSWER'
  | 'LLM_BUDGET_EXCEEDED';

/**
 * Which codes a retry can cure. `LLM_INVALID_ANSWER` is operational: models answer differently each
 * time, so a later attempt may pass where two in a row failed. Auth, model and rejected-request
 * errors are configuration problems: retrying the same request cannot help.
 */
const KINDS: Readonly<Record<LlmErrorCode, ErrorKind>> = {
  LLM_RATE_LIMITED: 'operational',
  LLM_UNAVAILABLE: 'operational',
  LLM_TIMEOUT: 'operational',
  LLM_AUTH: 'user',
  LLM_MODEL_NOT_FOUND: 'user',
  LLM_REQUEST_REJECTED: 'user',
  LLM_INVALID_ANSWER: 'operational',
  LLM_BUDGET_EXCEEDED: 'operational',
};

export interface LlmErrorOptions extends AppErrorOptions {
  /** How long the server asked us to wait (Retry-After / retry-after-ms), for `LLM_RATE_LIMITED`. */
  readonly retryAfterMs?: number | null;
  /** The validation problems of the last answer, for `LLM_INVALID_ANSWER`. */
  readonly problems?: readonly string[];
}

/** A failure of the summarize stage's LLM call; `kind` follows from `code`. */
export class LlmError extends AppError {
  override readonly name = 'LlmError';
  declare readonly code: LlmErrorCode;
  /** Milliseconds the server asked us to wait before retrying; null when it did not say. */
  readonly retryAfterMs: number | null;
  /** What was wrong with the model's answer (empty unless `LLM_INVALID_ANSWER`). */
  readonly problems: readonly string[];

  constructor(code: LlmErrorCode, message: string, options: LlmErrorOptions = {}) {
    const { retryAfterMs = null, problems = [], ...base } = options;
    super(code, KINDS[code], message, base);
    this.retryAfterMs = retryAfterMs;
    this.problems = problems;
  }
}

/** Narrow an unknown thrown value to an {@link LlmError}, optionally of one code. */
export function isLlmError(value: unknown, code?: LlmErrorCode): value is LlmError {
  return value instanceof LlmError && (code === undefined || value.code === code);
}
