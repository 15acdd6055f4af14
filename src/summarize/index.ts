// The summarize stage: Report → Korean SummaryRecord through an OpenAI-compatible server.
export type { Country, Summary, SummaryRecord, TokenUsage } from './summary.js';
export {
  resolveLlmSettings,
  parsePricing,
  estimateCostUsd,
  OLLAMA_DEFAULT_BASE_URL,
  OLLAMA_DEFAULT_MODEL,
  OPENAI_DEFAULT_BASE_URL,
  OPENAI_DEFAULT_MODEL,
  type LlmEnv,
  type LlmPricing,
  type LlmSettings,
} from './llm-settings.js';
export { createLlmClient, type LlmClient } from './llm-client.js';
export { LlmError, isLlmError, type LlmErrorCode, type LlmErrorOptions } from './llm-error.js';
export { toLlmError, parseRetryAfterMs, type LlmTarget } from './map-llm-error.js';
export {
  loadPrompts,
  promptVersion,
  DEFAULT_PROMPTS_DIR,
  PROMPT_FILES,
  type PromptSet,
  type UserTemplateInput,
  type RepairTemplateInput,
} from './prompt-set.js';
export { PromptError, type PromptErrorCode } from './prompt-error.js';
export {
  findProduct,
  entriesMentionedIn,
  type Glossary,
  type GlossaryEntry,
  type CountryEntry,
} from './glossary.js';
export { koreanDate, buildTitleKo, ISW_TIME_ZONE } from './korean-title.js';
export { countryNameKo, isValidIso2 } from './countries.js';
export {
  buildMessages,
  buildUserMessage,
  buildRepairMessages,
  reportForPrompt,
  expectedTakeawayCount,
  type ReportForPrompt,
} from './build-messages.js';
export {
  summaryJsonSchema,
  parseAnswer,
  SUMMARY_SCHEMA_NAME,
  type ModelAnswer,
  type ParsedAnswer,
} from './answer-schema.js';
export {
  validateSummary,
  SUMMARY_LIMITS,
  type SummaryDraft,
  type ValidationContext,
} from './validate-summary.js';
export { InMemoryTokenLedger, assertWithinBudget, budgetMonth, type TokenLedger } from './token-ledger.js';
export { Summarizer, type SummarizerOptions } from './summarizer.js';
export { checkLlm, type LlmCheck } from './check-llm.js';
