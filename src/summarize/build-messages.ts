import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Report } from '../parse/index.js';
import { clip } from './answer-schema.js';
import { entriesMentionedIn, type GlossaryEntry } from './glossary.js';
import { koreanDate } from './korean-title.js';
import type { PromptSet } from './prompt-set.js';

/**
 * Body text sent to the model, at most. A Russian Offensive Campaign Assessment email is ~10–20k
 * characters; the cap keeps a pathological newsletter from costing a fortune or overflowing a small
 * local model's context (Ollama's default context is only a few thousand tokens).
 */
export const MAX_BODY_CHARS = 24_000;

/** Previous answer quoted back in a repair request, at most (it is only there for reference). */
export const MAX_QUOTED_ANSWER_CHARS = 12_000;

/** The report as the model sees it: data, inside the report tags. */
export interface ReportForPrompt {
  readonly source: Report['source'];
  readonly product: string | null;
  readonly title: string;
  /** Publication date in Korean, US Eastern calendar ("2025년 3월 2일"). */
  readonly published_ko: string;
  readonly key_takeaway_count: number;
  /** Numbered, so the model (and the test server) can count them. */
  readonly key_takeaways: readonly { readonly n: number; readonly text: string }[];
  readonly body: readonly string[];
  /** True when the body was cut at {@link MAX_BODY_CHARS}. */
  readonly body_truncated: boolean;
}

/** The number of Korean takeaways expected: the source's count, or null (3–7 main points) when it has none. */
export function expectedTakeawayCount(report: Pick<Report, 'keyTakeaways'>): number | null {
  return report.keyTakeaways.length > 0 ? report.keyTakeaways.length : null;
}

/** The data object placed between the report tags. */
export function reportForPrompt(report: Report): ReportForPrompt {
  const body: string[] = [];
  let used = 0;
  let truncated = false;
  for (const p of report.paragraphs) {
    const text =
      p.type === 'text'
        ? p.text
        : p.items.map((item, i) => `${p.ordered ? `${i + 1}.` : '•'} ${item}`).join('\n');
    if (used + text.length > MAX_BODY_CHARS) {
      truncated = true;
      break;
    }
    body.push(text);
    used += text.length;
  }
  return {
    source: report.source,
    product: report.product,
    title: report.title,
    published_ko: koreanDate(report.publishedAt),
    key_takeaway_count: report.keyTakeaways.length,
    key_takeaways: report.keyTakeaways.map((text, i) => ({ n: i + 1, text })),
    body,
    body_truncated: truncated,
  };
}

/**
 * JSON of the report for the prompt, with every `<` and `>` written as a JSON escape: the text of an
 * email can then never contain "</report>" and step outside its delimiters, while JSON readers (and
 * models) still read the same characters.
 */
export function encodeReportJson(data: ReportForPrompt): string {
  return JSON.stringify(data, null, 2).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
}

/** One glossary line for the prompt: `Kyiv → 키이우 (not: 키예프, 키에프)`. */
export function glossaryLine(entry: GlossaryEntry): string {
  const avoid = entry.avoid.length > 0 ? ` (not: ${entry.avoid.join(', ')})` : '';
  return `${entry.en.join(' / ')} → ${entry.ko}${avoid}`;
}

/**
 * The user message: instructions, the categories, the glossary entries the report mentions, and the
 * report as JSON data between `<report>` and `</report>` (the only place report text appears).
 */
export function buildUserMessage(report: Report, prompts: PromptSet): string {
  const data = reportForPrompt(report);
  const searchable = [report.title, report.product ?? '', ...report.keyTakeaways, ...data.body].join('\n');
  return prompts
    .userTemplate({
      takeawayCount: data.key_takeaway_count,
      categoryList: prompts.categories.join(', '),
      glossaryLines: entriesMentionedIn(prompts.glossary, searchable).map(glossaryLine),
      reportJson: encodeReportJson(data),
    })
    .trim();
}

/** The first request: the system prompt, then the user message. */
export function buildMessages(report: Report, prompts: PromptSet): ChatCompletionMessageParam[] {
  return [
    { role: 'system', content: prompts.system },
    { role: 'user', content: buildUserMessage(report, prompts) },
  ];
}

/**
 * The repair request: the first conversation, the rejected answer as the assistant's turn, and a
 * user message listing the problems. One of these at most per report.
 */
export function buildRepairMessages(
  first: readonly ChatCompletionMessageParam[],
  previousAnswer: string,
  problems: readonly string[],
  prompts: PromptSet,
): ChatCompletionMessageParam[] {
  return [
    ...first,
    { role: 'assistant', content: clip(previousAnswer, MAX_QUOTED_ANSWER_CHARS) },
    {
      role: 'user',
      content: prompts.repairTemplate({ problems: problems.map((p, i) => `${i + 1}. ${p}`) }).trim(),
    },
  ];
}
