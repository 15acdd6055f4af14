import { LlmError } from './llm-error.js';

/**
 * Where tokens used per month are counted. Storage-agnostic: the queue layer backs it with Redis
 * (INCRBY on a per-month key); tests and one-off CLI runs use {@link InMemoryTokenLedger}.
 */
export interface TokenLedger {
  /** Tokens recorded for `month` ("2025-03"). */
  used(month: string): Promise<number>;
  /** Record `tokens` more for `month`. */
  add(month: string, tokens: number): Promise<void>;
}

/** A ledger in process memory: for tests and single runs, forgotten on exit. */
export class InMemoryTokenLedger implements TokenLedger {
  readonly #months = new Map<string, number>();

  used(month: string): Promise<number> {
    return Promise.resolve(this.#months.get(month) ?? 0);
  }

  add(month: string, tokens: number): Promise<void> {
    this.#months.set(month, (this.#months.get(month) ?? 0) + tokens);
    return Promise.resolve();
  }
}

/**
 * The budget month of a moment: "YYYY-MM" in UTC, the calendar OpenAI and most providers bill by.
 */
export function budgetMonth(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/**
 * Throw `LLM_BUDGET_EXCEEDED` when a budget is set (> 0) and this month's usage has reached it. The
 * check runs before a call, so the last report of a month may overshoot by one summary's tokens.
 */
export async function assertWithinBudget(
  ledger: TokenLedger,
  monthlyBudget: number,
  at: Date,
): Promise<void> {
  if (monthlyBudget <= 0) return;
  const month = budgetMonth(at);
  const used = await ledger.used(month);
  if (used >= monthlyBudget) {
    throw new LlmError(
      'LLM_BUDGET_EXCEEDED',
      `The monthly LLM token budget is used up: ${used} of ${monthlyBudget} tokens in ${month} (UTC)`,
      {
        details: { month, used, budget: monthlyBudget },
        hint: 'raise LLM_MONTHLY_TOKEN_BUDGET (0 = no budget), or wait for next month; summaries resume then',
      },
    );
  }
}
