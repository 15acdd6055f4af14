import OpenAI from 'openai';
import type { LlmSettings } from './llm-settings.js';

/** The client type the summarize stage uses: the real openai SDK client. */
export type LlmClient = OpenAI;

/**
 * The openai SDK client for the configured OpenAI-compatible server. Nothing connects here; the
 * first request does.
 *
 * `maxRetries: 0`: BullMQ already retries a failed summarize job with backoff, and the SDK's own two
 * retries would multiply that (3 × BullMQ attempts × repair) and let one job run past its lock; so
 * the SDK fails fast and our {@link LlmError} tells the worker whether a retry makes sense.
 */
export function createLlmClient(settings: Pick<LlmSettings, 'baseURL' | 'apiKey' | 'timeoutMs'>): LlmClient {
  return new OpenAI({
    baseURL: settings.baseURL,
    apiKey: settings.apiKey,
    timeout: settings.timeoutMs,
    maxRetries: 0,
  });
}
