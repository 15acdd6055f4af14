import type { Env } from '../config/index.js';

/** Where a local Ollama serves its OpenAI-compatible API (`ollama serve`'s default port). */
export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434/v1';
/** Model used on the local Ollama default: small enough for a CPU box, decent at Korean. */
export const OLLAMA_DEFAULT_MODEL = 'qwen2.5:7b-instruct';
/**
 * Ollama ignores the key, but the openai SDK refuses to start without one, so a placeholder is
 * sent (Ollama's own documentation uses the same word).
 */
export const OLLAMA_PLACEHOLDER_API_KEY = 'ollama';
/** OpenAI's API, used when a key is set without a base URL. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Default model with an API key: cheap, fast, and follows JSON schemas strictly. */
export const OPENAI_DEFAULT_MODEL = 'gpt-4o-mini';

/** Prices in USD per million tokens, from LLM_PRICE_PER_MTOKENS ("input/output"). */
export interface LlmPricing {
  readonly inputPerMTokens: number;
  readonly outputPerMTokens: number;
}

/** The summarize stage's slice of the configuration, with every default applied. */
export interface LlmSettings {
  /** OpenAI-compatible API root, ending in /v1. */
  readonly baseURL: string;
  /** The key sent as a bearer token (a placeholder for Ollama). Secret: never log it. */
  readonly apiKey: string;
  readonly model: string;
  /** Timeout of one HTTP request to the LLM server. */
  readonly timeoutMs: number;
  /** Summaries requested at the same time per worker process (used by the worker). */
  readonly concurrency: number;
  /** Tokens allowed per calendar month (UTC); 0 means no budget. */
  readonly monthlyTokenBudget: number;
  readonly pricing: LlmPricing;
  /** True when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so a local Ollama is assumed. */
  readonly usingLocalOllamaDefault: boolean;
}

/** The environment variables {@link resolveLlmSettings} reads. */
export type LlmEnv = Pick<
  Env,
  | 'OPENAI_API_KEY'
  | 'OPENAI_BASE_URL'
  | 'LLM_MODEL'
  | 'LLM_TIMEOUT_MS'
  | 'LLM_CONCURRENCY'
  | 'LLM_MONTHLY_TOKEN_BUDGET'
  | 'LLM_PRICE_PER_MTOKENS'
>;

/**
 * Apply the LLM defaults to the validated environment:
 * - no `OPENAI_API_KEY` and no `OPENAI_BASE_URL`: a local Ollama at
 *   {@link OLLAMA_DEFAULT_BASE_URL} with model {@link OLLAMA_DEFAULT_MODEL} and the placeholder key
 *   `ollama` (`usingLocalOllamaDefault` is then true, so errors can say "start Ollama");
 * - a key but no base URL: OpenAI ({@link OPENAI_DEFAULT_BASE_URL}) with {@link OPENAI_DEFAULT_MODEL};
 * - a base URL: that server; the model defaults to `gpt-4o-mini` when a key is set (hosted
 *   OpenAI-compatible APIs) and to `qwen2.5:7b-instruct` when not (self-hosted servers), but such
 *   servers should be given `LLM_MODEL` explicitly;
 * - `LLM_MODEL` always wins.
 *
 * `LLM_PRICE_PER_MTOKENS` ("0.15/0.6") becomes {@link LlmPricing}; config has already checked its form.
 */
export function resolveLlmSettings(env: LlmEnv): LlmSettings {
  const key = env.OPENAI_API_KEY;
  const base = env.OPENAI_BASE_URL;
  return {
    baseURL: stripTrailingSlash(
      base ?? (key === undefined ? OLLAMA_DEFAULT_BASE_URL : OPENAI_DEFAULT_BASE_URL),
    ),
    apiKey: key ?? OLLAMA_PLACEHOLDER_API_KEY,
    model: env.LLM_MODEL ?? (key === undefined ? OLLAMA_DEFAULT_MODEL : OPENAI_DEFAULT_MODEL),
    timeoutMs: env.LLM_TIMEOUT_MS,
    concurrency: env.LLM_CONCURRENCY,
    monthlyTokenBudget: env.LLM_MONTHLY_TOKEN_BUDGET,
    pricing: parsePricing(env.LLM_PRICE_PER_MTOKENS),
    usingLocalOllamaDefault: key === undefined && base === undefined,
  };
}

/** "0.15/0.6" → { inputPerMTokens: 0.15, outputPerMTokens: 0.6 }. */
export function parsePricing(value: string): LlmPricing {
  const [input = '', output = ''] = value.split('/');
  const inputPerMTokens = Number(input);
  const outputPerMTokens = Number(output);
  if (!Number.isFinite(inputPerMTokens) || !Number.isFinite(outputPerMTokens)) {
    // config/settings.ts validates the form, so reaching this is a bug, not bad input.
    throw new TypeError(`LLM price "${value}" is not "input/output" in USD per million tokens`);
  }
  return { inputPerMTokens, outputPerMTokens };
}

/** Estimated cost in USD of one or more calls, rounded to a millionth of a dollar. */
export function estimateCostUsd(
  usage: { readonly promptTokens: number; readonly completionTokens: number },
  pricing: LlmPricing,
): number {
  const usd =
    (usage.promptTokens * pricing.inputPerMTokens + usage.completionTokens * pricing.outputPerMTokens) /
    1_000_000;
  return Math.round(usd * 1_000_000) / 1_000_000;
}

// The SDK joins paths onto baseURL itself; a trailing slash would only make logged URLs differ.
function stripTrailingSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
