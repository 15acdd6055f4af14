/**
 * The Korean summary of one report. Field names are a contract: templates, the board adapters, the
 * digests and the admin tools all read them, so they never change.
 */
export interface Country {
  /** Korean name from the maintained country library (i18n-iso-countries), not the model's spelling. */
  readonly name_ko: string;
  /** ISO 3166-1 alpha-2 code, upper case. */
  readonly iso2: string;
  readonly note: string | null;
}

export interface Summary {
  /** Korean product name and date: "러시아의 공세 캠페인 평가, 2025년 3월 2일". */
  readonly title_ko: string;
  /** One Korean sentence per source takeaway, same count, same order (3–7 main points for generic reports). */
  readonly key_takeaways_ko: readonly string[];
  /** One to three names from the configured category list. */
  readonly categories: readonly string[];
  readonly countries: readonly Country[];
  /** A short Korean paragraph on what to expect next. */
  readonly outlook_ko: string;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

/** A summary as stored: with what made it and what it cost. */
export interface SummaryRecord {
  readonly reportId: string;
  readonly summary: Summary;
  readonly model: string;
  /** sha256 (first 12 hex) of the prompt files and glossary used. */
  readonly promptVersion: string;
  readonly usage: TokenUsage;
  readonly estimatedCostUsd: number;
  /** The server's request id (x-request-id), for support tickets. */
  readonly requestId: string | null;
  /** How many repair requests were needed (0 or 1). */
  readonly repairs: number;
  readonly createdAt: string;
}
