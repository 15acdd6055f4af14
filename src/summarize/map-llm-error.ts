import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  RateLimitError,
} from 'openai';
import { LlmError } from './llm-error.js';
import { OLLAMA_DEFAULT_MODEL } from './llm-settings.js';

/** What an error message needs to name: the server, the model, and whether Ollama was assumed. */
export interface LlmTarget {
  readonly baseURL: string;
  readonly model: string;
  readonly usingLocalOllamaDefault: boolean;
}

/**
 * Turn an error thrown by the openai SDK into an {@link LlmError}, by the SDK's error class and HTTP
 * status (never by message text). Returns null for anything that is not an SDK error (a bug of
 * ours), so the caller rethrows it unchanged.
 */
export function toLlmError(error: unknown, target: LlmTarget): LlmError | null {
  if (error instanceof LlmError) return error;
  if (!isApiError(error)) return null;
  const details = {
    baseURL: target.baseURL,
    model: target.model,
    status: error.status ?? null,
    requestId: error.requestID ?? null,
  };
  // Subclass before superclass: a timeout is also an APIConnectionError.
  if (error instanceof APIConnectionTimeoutError) {
    return new LlmError(
      'LLM_TIMEOUT',
      `The LLM server at ${target.baseURL} did not answer within the timeout (model ${target.model})`,
      {
        cause: error,
        details,
        hint: 'raise LLM_TIMEOUT_MS (keep it below the summarize job lock), or use a faster model (LLM_MODEL)',
      },
    );
  }
  if (error instanceof APIUserAbortError) {
    // We never pass an AbortSignal, so an abort means something shut the request down (a bug or shutdown).
    return new LlmError('LLM_UNAVAILABLE', `The request to the LLM server at ${target.baseURL} was aborted`, {
      cause: error,
      details,
    });
  }
  if (error instanceof APIConnectionError) {
    // `unreachable`: nothing answered at all (refused, DNS, reset), as opposed to a server error;
    // the queue waits longer for that without spending attempts.
    return unavailable(error, target, { ...details, unreachable: true }, 'is not reachable');
  }
  if (error instanceof RateLimitError) {
    const retryAfterMs = parseRetryAfterMs(error.headers);
    return new LlmError(
      'LLM_RATE_LIMITED',
      `The LLM server at ${target.baseURL} is rate limiting us (429)${retryAfterMs === null ? '' : `; it asks to wait ${Math.ceil(retryAfterMs / 1000)} s`}`,
      {
        cause: error,
        // Also in details, which is what logs and admin pages show.
        details: { ...details, code: error.code ?? null, retryAfterMs },
        retryAfterMs,
        // OpenAI also answers 429 with code insufficient_quota when the account has no credit.
        hint:
          error.code === 'insufficient_quota'
            ? 'the account behind OPENAI_API_KEY has no quota left: add credit or use another key'
            : 'lower LLM_CONCURRENCY, or raise the rate limit of the account',
      },
    );
  }
  const status = error.status;
  if (status === 401 || status === 403) {
    return new LlmError(
      'LLM_AUTH',
      `The LLM server at ${target.baseURL} refused our credentials (${status})`,
      {
        cause: error,
        details,
        hint: target.usingLocalOllamaDefault
          ? 'set OPENAI_BASE_URL and OPENAI_API_KEY for the server you mean to use'
          : 'set OPENAI_API_KEY to a valid key for this server (and check OPENAI_BASE_URL)',
      },
    );
  }
  if (status === 404) {
    return new LlmError(
      'LLM_MODEL_NOT_FOUND',
      `The LLM server at ${target.baseURL} does not know the model "${target.model}" (404)`,
      {
        cause: error,
        details,
        hint: modelHint(target),
      },
    );
  }
  if (status === 408) {
    return new LlmError('LLM_TIMEOUT', `The LLM server at ${target.baseURL} timed out the request (408)`, {
      cause: error,
      details,
      hint: 'retry later, or use a faster model (LLM_MODEL)',
    });
  }
  if (status !== undefined && (status >= 500 || status === 409)) {
    // 409 is a lock conflict on OpenAI's side; the SDK itself treats it as retriable.
    return unavailable(error, target, { ...details, unreachable: false }, `answered ${status}`);
  }
  return new LlmError(
    'LLM_REQUEST_REJECTED',
    `The LLM server at ${target.baseURL} rejected the request (${status ?? 'no status'}) for model "${target.model}"`,
    {
      cause: error,
      details: { ...details, code: error.code ?? null, param: error.param ?? null },
      hint: 'the server may not support structured outputs (response_format json_schema), or the report is longer than the model context: use a model that supports both (LLM_MODEL)',
    },
  );
}

/** An SDK error with its type parameters spelled out (instanceof alone narrows them to `any`). */
type SdkError = APIError<number | undefined, Headers | undefined, object | undefined>;

function isApiError(error: unknown): error is SdkError {
  return error instanceof APIError;
}

function unavailable(
  error: SdkError,
  target: LlmTarget,
  details: Record<string, unknown>,
  what: string,
): LlmError {
  const fix = target.usingLocalOllamaDefault
    ? `No OPENAI_BASE_URL or OPENAI_API_KEY is set, so isw-ko uses a local Ollama: start it ("ollama serve", then "ollama pull ${OLLAMA_DEFAULT_MODEL}"), or set OPENAI_BASE_URL, OPENAI_API_KEY and LLM_MODEL for another OpenAI-compatible server.`
    : 'Check that the server is running, or set OPENAI_BASE_URL, OPENAI_API_KEY and LLM_MODEL for a server that is.';
  return new LlmError('LLM_UNAVAILABLE', `The LLM server at ${target.baseURL} ${what}. ${fix}`, {
    cause: error,
    details,
    // The message already says what to start or set; the hint adds what happens meanwhile.
    hint: 'summaries wait in the queue and are tried again; `isw-ko doctor` checks the server',
  });
}

function modelHint(target: LlmTarget): string {
  const ollama = target.usingLocalOllamaDefault || target.baseURL.includes(':11434');
  return ollama
    ? `run "ollama pull ${target.model}", or set LLM_MODEL to a model "ollama list" shows`
    : 'set LLM_MODEL to a model the server lists ("isw-ko doctor" shows them), and check that OPENAI_BASE_URL ends in /v1';
}

/**
 * How long a 429 asks us to wait, in milliseconds, or null. `retry-after-ms` is OpenAI's (and Azure's)
 * millisecond header; `Retry-After` is RFC 9110 §10.2.3: delay-seconds or an HTTP-date.
 */
export function parseRetryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | null {
  if (headers === undefined) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(after.trim())) return Math.ceil(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
