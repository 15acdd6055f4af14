import type { LlmClient } from './llm-client.js';
import { isLlmError } from './llm-error.js';
import { toLlmError, type LlmTarget } from './map-llm-error.js';

/** The outcome of `isw-ko doctor`'s LLM check. */
export interface LlmCheck {
  readonly ok: boolean;
  /** One line on what was found. */
  readonly message: string;
  /** What to do about it; null when all is well. */
  readonly hint: string | null;
}

/** Model names shown in a "not found" hint, at most. */
const MAX_MODELS_SHOWN = 12;

/**
 * Check that the LLM server answers and knows `model`: lists the models (GET /v1/models); servers
 * without that endpoint (404) get a 1-token chat completion instead. Never throws for server
 * problems: they become `{ ok: false, message, hint }`.
 */
export async function checkLlm(
  client: LlmClient,
  model: string,
  options: { readonly usingLocalOllamaDefault?: boolean } = {},
): Promise<LlmCheck> {
  const target: LlmTarget = {
    baseURL: client.baseURL,
    model,
    usingLocalOllamaDefault: options.usingLocalOllamaDefault ?? false,
  };
  let ids: string[];
  try {
    const page = await client.models.list();
    ids = page.data.map((m) => m.id);
  } catch (err) {
    const mapped = toLlmError(err, target);
    if (mapped === null) throw err;
    // Some OpenAI-compatible servers (older llama.cpp builds, proxies) do not implement /models.
    if (mapped.code === 'LLM_MODEL_NOT_FOUND') return chatProbe(client, target);
    return { ok: false, message: mapped.message, hint: mapped.hint ?? null };
  }
  // Ollama lists untagged pulls as "name:latest" while accepting "name" in requests.
  if (ids.includes(model) || ids.includes(`${model}:latest`)) {
    return {
      ok: true,
      message: `LLM server at ${target.baseURL} is up and has model "${model}"`,
      hint: null,
    };
  }
  const shown = ids.slice(0, MAX_MODELS_SHOWN).join(', ');
  const more = ids.length > MAX_MODELS_SHOWN ? `, … (${ids.length} in all)` : '';
  const ollama = target.usingLocalOllamaDefault || target.baseURL.includes(':11434');
  return {
    ok: false,
    message: `LLM server at ${target.baseURL} is up but does not list model "${model}"${ids.length === 0 ? ' (it lists no models)' : ''}`,
    hint: ollama
      ? `run "ollama pull ${model}", or set LLM_MODEL to one of: ${shown || '(none)'}${more}`
      : `set LLM_MODEL to one of: ${shown || '(none)'}${more}`,
  };
}

async function chatProbe(client: LlmClient, target: LlmTarget): Promise<LlmCheck> {
  try {
    await client.chat.completions.create({
      model: target.model,
      messages: [{ role: 'user', content: 'ping' }],
      // max_completion_tokens, not the deprecated max_tokens that o-series models reject.
      max_completion_tokens: 1,
    });
    return {
      ok: true,
      message: `LLM server at ${target.baseURL} answers with model "${target.model}" (it does not list models)`,
      hint: null,
    };
  } catch (err) {
    const mapped = toLlmError(err, target);
    if (mapped === null) throw err;
    return {
      ok: false,
      message: mapped.message,
      hint: mapped.hint ?? (isLlmError(mapped, 'LLM_MODEL_NOT_FOUND') ? 'check LLM_MODEL' : null),
    };
  }
}
