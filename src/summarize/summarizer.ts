import type { CompletionUsage } from 'openai/resources/completions';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Report } from '../parse/index.js';
import type { Logger } from '../shared/logger.js';
import { SUMMARY_SCHEMA_NAME, parseAnswer, summaryJsonSchema, type ModelAnswer } from './answer-schema.js';
import { buildMessages, buildRepairMessages, expectedTakeawayCount } from './build-messages.js';
import { countryNameKo } from './countries.js';
import { buildTitleKo } from './korean-title.js';
import type { LlmClient } from './llm-client.js';
import { LlmError } from './llm-error.js';
import { estimateCostUsd, type LlmSettings } from './llm-settings.js';
import { toLlmError } from './map-llm-error.js';
import type { PromptSet } from './prompt-set.js';
import type { Summary, SummaryRecord, TokenUsage } from './summary.js';
import { assertWithinBudget, budgetMonth, type TokenLedger } from './token-ledger.js';
import { validateSummary, type ValidationContext } from './validate-summary.js';

export interface SummarizerOptions {
  /** The openai SDK client from {@link createLlmClient} (built with `maxRetries: 0`). */
  readonly client: LlmClient;
  readonly settings: Pick<
    LlmSettings,
    'baseURL' | 'model' | 'monthlyTokenBudget' | 'pricing' | 'usingLocalOllamaDefault'
  >;
  readonly prompts: PromptSet;
  /** Tokens used per month; checked before each report when a budget is set. */
  readonly ledger: TokenLedger;
  /** The stage's logger; each report gets a child `{ stage: 'summarize', reportId }`. */
  readonly logger: Logger;
  /** Injectable clock for tests (budget month, createdAt). */
  readonly now?: () => Date;
}

/** One chat completion, as far as the summarizer cares. */
interface CallResult {
  readonly content: string | null;
  readonly requestId: string | null;
  readonly usage: TokenUsage;
  /** Problems seen before reading the content: no choice, cut off, refused. */
  readonly transportProblems: readonly string[];
}

/** A call's answer after checking: a summary, or the problems that go into the repair request. */
interface CheckedAnswer extends CallResult {
  readonly summary: Summary | null;
  readonly problems: readonly string[];
}

const ZERO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

/**
 * Turns a {@link Report} into a Korean {@link SummaryRecord}: one chat completion with a strict JSON
 * schema, checked by {@link validateSummary}; at most one repair request when the answer is unusable.
 * Knows nothing of queues: the worker calls {@link Summarizer.summarize} and decides on retries from
 * the {@link LlmError} code. With two calls possible, one report can take up to twice
 * LLM_TIMEOUT_MS, so the job lock must be longer than that.
 */
export class Summarizer {
  readonly #client: LlmClient;
  readonly #settings: SummarizerOptions['settings'];
  readonly #prompts: PromptSet;
  readonly #ledger: TokenLedger;
  readonly #logger: Logger;
  readonly #now: () => Date;

  constructor(options: SummarizerOptions) {
    this.#client = options.client;
    this.#settings = options.settings;
    this.#prompts = options.prompts;
    this.#ledger = options.ledger;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Summarise one report. Throws {@link LlmError}: `LLM_BUDGET_EXCEEDED` before any call when the
   * month's budget is used up; the transport codes (`LLM_UNAVAILABLE`, `LLM_TIMEOUT`,
   * `LLM_RATE_LIMITED`, `LLM_AUTH`, `LLM_MODEL_NOT_FOUND`, `LLM_REQUEST_REJECTED`); or
   * `LLM_INVALID_ANSWER` listing the problems when the answer and its repair both fail validation.
   */
  async summarize(reportId: string, report: Report): Promise<SummaryRecord> {
    const log = this.#logger.child({ stage: 'summarize', reportId });
    await assertWithinBudget(this.#ledger, this.#settings.monthlyTokenBudget, this.#now());

    const expectedTakeaways = expectedTakeawayCount(report);
    const ctx: ValidationContext = {
      expectedTakeaways,
      categories: this.#prompts.categories,
      glossary: this.#prompts.glossary,
    };
    const titleKo = buildTitleKo(report, this.#prompts.glossary);
    const schema = summaryJsonSchema(this.#prompts.categories, expectedTakeaways);
    const check = (call: CallResult): CheckedAnswer => {
      if (call.transportProblems.length > 0) {
        return { ...call, summary: null, problems: call.transportProblems };
      }
      const parsed = parseAnswer(call.content);
      if (!parsed.ok) return { ...call, summary: null, problems: parsed.problems };
      if (parsed.unwrappedFence)
        log.debug({ requestId: call.requestId }, 'answer was wrapped in a code fence; unwrapped it');
      // A known product's title is built by code so a series is titled one way; the model's is ignored.
      const draft: ModelAnswer = titleKo === null ? parsed.answer : { ...parsed.answer, title_ko: titleKo };
      const problems = validateSummary(draft, ctx);
      return { ...call, summary: problems.length === 0 ? this.#toSummary(draft) : null, problems };
    };

    const messages = buildMessages(report, this.#prompts);
    const first = check(await this.#call(messages, schema, log, 'first'));
    let result = first;
    let repairs = 0;
    if (first.summary === null) {
      log.warn({ problems: first.problems }, 'LLM answer unusable; sending one repair request');
      repairs = 1;
      const repairMessages = buildRepairMessages(
        messages,
        first.content ?? '',
        first.problems,
        this.#prompts,
      );
      result = check(await this.#call(repairMessages, schema, log, 'repair'));
    }

    const usage = repairs === 0 ? first.usage : addUsage(first.usage, result.usage);
    const estimatedCostUsd = estimateCostUsd(usage, this.#settings.pricing);
    if (result.summary === null) {
      throw new LlmError(
        'LLM_INVALID_ANSWER',
        `The model "${this.#settings.model}" gave no usable summary after one repair request:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
        {
          problems: result.problems,
          details: {
            model: this.#settings.model,
            requestIds: [first.requestId, result.requestId],
            usage,
            estimatedCostUsd,
          },
          hint: 'if this repeats, use a stronger model (LLM_MODEL), or check the prompts under prompts/',
        },
      );
    }

    const record: SummaryRecord = {
      reportId,
      summary: result.summary,
      model: this.#settings.model,
      promptVersion: this.#prompts.version,
      usage,
      estimatedCostUsd,
      requestId: result.requestId,
      repairs,
      createdAt: this.#now().toISOString(),
    };
    log.info(
      { requestId: record.requestId, usage, estimatedCostUsd, repairs, promptVersion: record.promptVersion },
      'report summarised',
    );
    return record;
  }

  /** One chat completion, its usage logged and recorded in the ledger; SDK errors become LlmError. */
  async #call(
    messages: ChatCompletionMessageParam[],
    schema: Record<string, unknown>,
    log: Logger,
    attempt: 'first' | 'repair',
  ): Promise<CallResult> {
    const started = performance.now();
    let completion;
    try {
      completion = await this.#client.chat.completions.create({
        model: this.#settings.model,
        messages,
        response_format: {
          type: 'json_schema',
          json_schema: { name: SUMMARY_SCHEMA_NAME, strict: true, schema },
        },
      });
    } catch (err) {
      throw toLlmError(err, this.#settings) ?? err;
    }
    const durationMs = Math.round(performance.now() - started);
    const requestId = completion._request_id ?? null;
    // Some OpenAI-compatible servers send no usage (or null): count zero rather than fail the summary.
    const reported: CompletionUsage | null = completion.usage ?? null;
    const usage: TokenUsage =
      reported === null
        ? ZERO_USAGE
        : {
            promptTokens: reported.prompt_tokens,
            completionTokens: reported.completion_tokens,
            totalTokens: reported.total_tokens,
          };
    if (reported === null) log.warn({ requestId }, 'LLM server reported no token usage');
    log.info({ requestId, attempt, usage, durationMs, model: completion.model }, 'LLM answered');
    await this.#record(usage.totalTokens, log);

    const choice = completion.choices[0];
    const transportProblems: string[] = [];
    if (choice === undefined) transportProblems.push('the server returned no choices');
    if (choice?.finish_reason === 'length') {
      transportProblems.push('the answer was cut off at the output token limit; keep every field shorter');
    }
    const refusal = choice?.message.refusal;
    if (typeof refusal === 'string' && refusal !== '') {
      transportProblems.push(`the model refused: ${JSON.stringify(refusal.slice(0, 200))}`);
    }
    return { content: choice?.message.content ?? null, requestId, usage, transportProblems };
  }

  /**
   * Add tokens to the ledger. A failure to record is logged, not thrown: the answer is already paid
   * for, and failing the job would only pay for it again; the budget is a guard, not an invoice.
   */
  async #record(tokens: number, log: Logger): Promise<void> {
    if (tokens <= 0) return;
    try {
      await this.#ledger.add(budgetMonth(this.#now()), tokens);
    } catch (err) {
      log.error(
        { err, tokens },
        'could not record token usage in the ledger; the monthly budget will undercount',
      );
    }
  }

  #toSummary(answer: ModelAnswer): Summary {
    return {
      title_ko: answer.title_ko,
      key_takeaways_ko: answer.key_takeaways_ko,
      categories: answer.categories,
      countries: answer.countries.map((c) => ({
        iso2: c.iso2,
        // Validation has already rejected unknown codes, so a name always exists here.
        name_ko: countryNameKo(c.iso2, this.#prompts.glossary) ?? c.iso2,
        note: c.note,
      })),
      outlook_ko: answer.outlook_ko,
    };
  }
}

function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}
