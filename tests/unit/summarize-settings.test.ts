// Covers LLM settings defaults, cost estimates, SDK error → LlmError mapping, Retry-After parsing and the token budget.
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/index.js';
import {
  estimateCostUsd,
  parsePricing,
  resolveLlmSettings,
  type LlmEnv,
} from '../../src/summarize/llm-settings.js';
import { LlmError } from '../../src/summarize/llm-error.js';
import { parseRetryAfterMs, toLlmError, type LlmTarget } from '../../src/summarize/map-llm-error.js';
import { assertWithinBudget, budgetMonth, InMemoryTokenLedger } from '../../src/summarize/token-ledger.js';

function env(vars: Record<string, string>): LlmEnv {
  return loadEnv({ env: vars, envFile: null });
}

describe('resolveLlmSettings', () => {
  it('defaults to a local Ollama when neither key nor base URL is set', () => {
    const s = resolveLlmSettings(env({}));
    expect(s).toMatchObject({
      baseURL: 'http://127.0.0.1:11434/v1',
      apiKey: 'ollama',
      model: 'qwen2.5:7b-instruct',
      usingLocalOllamaDefault: true,
      timeoutMs: 120_000,
      concurrency: 2,
      monthlyTokenBudget: 0,
      pricing: { inputPerMTokens: 0.15, outputPerMTokens: 0.6 },
    });
  });

  it('uses OpenAI and gpt-4o-mini when only a key is set', () => {
    const s = resolveLlmSettings(env({ OPENAI_API_KEY: 'sk-test-123' }));
    expect(s).toMatchObject({
      baseURL: 'https://api.openai.com/v1',
      apiKey: 'sk-test-123',
      model: 'gpt-4o-mini',
      usingLocalOllamaDefault: false,
    });
  });

  it('uses the configured server and model as given', () => {
    const s = resolveLlmSettings(
      env({
        OPENAI_BASE_URL: 'http://gpu-box:8000/v1/',
        LLM_MODEL: 'Qwen/Qwen2.5-32B-Instruct',
        LLM_TIMEOUT_MS: '90000',
        LLM_CONCURRENCY: '4',
        LLM_MONTHLY_TOKEN_BUDGET: '5000000',
        LLM_PRICE_PER_MTOKENS: '2.5/10',
      }),
    );
    expect(s).toEqual({
      baseURL: 'http://gpu-box:8000/v1',
      apiKey: 'ollama',
      model: 'Qwen/Qwen2.5-32B-Instruct',
      timeoutMs: 90_000,
      concurrency: 4,
      monthlyTokenBudget: 5_000_000,
      pricing: { inputPerMTokens: 2.5, outputPerMTokens: 10 },
      usingLocalOllamaDefault: false,
    });
  });
});

describe('costs', () => {
  it('parses prices and estimates cost per million tokens', () => {
    expect(parsePricing('0.15/0.6')).toEqual({ inputPerMTokens: 0.15, outputPerMTokens: 0.6 });
    expect(estimateCostUsd({ promptTokens: 10_000, completionTokens: 2_000 }, parsePricing('0.15/0.6'))).toBe(
      0.0027,
    );
    expect(estimateCostUsd({ promptTokens: 0, completionTokens: 0 }, parsePricing('2.5/10'))).toBe(0);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-03-02T12:00:00Z');
  it('reads retry-after-ms, Retry-After seconds and Retry-After dates', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after-ms': '1500.5', 'retry-after': '9' }), now)).toBe(
      1501,
    );
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Sun, 02 Mar 2025 12:00:30 GMT' }), now)).toBe(
      30_000,
    );
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Sun, 02 Mar 2025 11:00:00 GMT' }), now)).toBe(0);
  });
  it('returns null when the server says nothing usable', () => {
    expect(parseRetryAfterMs(new Headers(), now)).toBeNull();
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeNull();
    expect(parseRetryAfterMs(undefined, now)).toBeNull();
  });
});

describe('toLlmError', () => {
  const target: LlmTarget = { baseURL: 'http://llm.test/v1', model: 'm1', usingLocalOllamaDefault: false };
  const status = (
    code: number,
    headers: Record<string, string> = {},
    body: object = { message: 'x' },
  ): unknown => APIError.generate(code, { error: body }, undefined, new Headers(headers));

  it('maps by SDK class and status, with the right kind', () => {
    const cases: [unknown, string, string][] = [
      [new APIConnectionTimeoutError(), 'LLM_TIMEOUT', 'operational'],
      [new APIConnectionError({ message: 'Connection error.' }), 'LLM_UNAVAILABLE', 'operational'],
      [status(429, { 'retry-after': '3' }), 'LLM_RATE_LIMITED', 'operational'],
      [status(500), 'LLM_UNAVAILABLE', 'operational'],
      [status(503), 'LLM_UNAVAILABLE', 'operational'],
      [status(401), 'LLM_AUTH', 'user'],
      [status(403), 'LLM_AUTH', 'user'],
      [status(404), 'LLM_MODEL_NOT_FOUND', 'user'],
      [status(408), 'LLM_TIMEOUT', 'operational'],
      [status(400), 'LLM_REQUEST_REJECTED', 'user'],
    ];
    for (const [error, code, kind] of cases) {
      const mapped = toLlmError(error, target);
      expect(mapped, code).toBeInstanceOf(LlmError);
      expect({ code: mapped?.code, kind: mapped?.kind, name: mapped?.name }).toEqual({
        code,
        kind,
        name: 'LlmError',
      });
      expect(mapped?.cause).toBe(error);
      expect(mapped?.message).toContain('http://llm.test/v1');
    }
  });

  it('does not classify by message text', () => {
    // A 500 whose text talks about rate limits is still a server error.
    const mapped = toLlmError(status(500, {}, { message: 'Rate limit exceeded, 429, timeout' }), target);
    expect(mapped?.code).toBe('LLM_UNAVAILABLE');
  });

  it('carries Retry-After of a 429 and the quota hint', () => {
    const mapped = toLlmError(
      status(429, { 'retry-after': '12' }, { message: 'x', code: 'insufficient_quota' }),
      target,
    );
    expect(mapped?.retryAfterMs).toBe(12_000);
    expect(mapped?.details['retryAfterMs']).toBe(12_000);
    expect(mapped?.hint).toContain('no quota');
  });

  it('says which URL failed and what to configure, naming Ollama on the default', () => {
    const plain = toLlmError(new APIConnectionError({}), target);
    expect(plain?.details['unreachable']).toBe(true);
    expect(toLlmError(status(502), target)?.details['unreachable']).toBe(false);
    expect(plain?.message).toContain('http://llm.test/v1');
    expect(plain?.message).toMatch(/OPENAI_BASE_URL.*OPENAI_API_KEY.*LLM_MODEL/);
    const ollama = toLlmError(new APIConnectionError({}), { ...target, usingLocalOllamaDefault: true });
    expect(ollama?.message).toContain('ollama serve');
    expect(ollama?.message).toContain('ollama pull qwen2.5:7b-instruct');
  });

  it('leaves errors that are not from the SDK alone', () => {
    expect(toLlmError(new TypeError('bug'), target)).toBeNull();
    const own = new LlmError('LLM_TIMEOUT', 'already mapped');
    expect(toLlmError(own, target)).toBe(own);
  });
});

describe('token budget', () => {
  it('uses UTC calendar months', () => {
    expect(budgetMonth(new Date('2025-03-31T23:59:59Z'))).toBe('2025-03');
    expect(budgetMonth(new Date('2025-04-01T00:00:00Z'))).toBe('2025-04');
  });

  it('refuses once the month has used the budget, and never when the budget is 0', async () => {
    const ledger = new InMemoryTokenLedger();
    const at = new Date('2025-03-02T12:00:00Z');
    await ledger.add('2025-03', 999);
    await expect(assertWithinBudget(ledger, 1000, at)).resolves.toBeUndefined();
    await ledger.add('2025-03', 1);
    const err: unknown = await assertWithinBudget(ledger, 1000, at).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect(err).toMatchObject({
      code: 'LLM_BUDGET_EXCEEDED',
      kind: 'operational',
      details: { used: 1000, budget: 1000 },
    });
    await expect(assertWithinBudget(ledger, 0, at)).resolves.toBeUndefined();
    // A new month starts from zero.
    await expect(assertWithinBudget(ledger, 1000, new Date('2025-04-01T00:00:00Z'))).resolves.toBeUndefined();
  });
});
