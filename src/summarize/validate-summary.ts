import { CATEGORY_COUNT, GENERIC_TAKEAWAYS, MAX_COUNTRIES, clip } from './answer-schema.js';
import { isValidIso2 } from './countries.js';
import { allEntries, type Glossary } from './glossary.js';

/** Length bounds in characters (UTF-16 code units, which for Hangul is one per syllable). */
export const SUMMARY_LIMITS = {
  title: { min: 5, max: 150 },
  // ISW takeaways run to two long sentences; Korean needs fewer characters than the English.
  takeaway: { min: 10, max: 700 },
  outlook: { min: 20, max: 1200 },
  note: { min: 1, max: 250 },
} as const;

/** A summary to check: the model's answer (countries as iso2 + note) or a finished `Summary`. */
export interface SummaryDraft {
  readonly title_ko: string;
  readonly key_takeaways_ko: readonly string[];
  readonly categories: readonly string[];
  readonly countries: readonly { readonly iso2: string; readonly note: string | null }[];
  readonly outlook_ko: string;
}

export interface ValidationContext {
  /** The source's number of key takeaways; null when it has none (then 3–7 main points are expected). */
  readonly expectedTakeaways: number | null;
  /** The configured category list. */
  readonly categories: readonly string[];
  readonly glossary: Glossary;
}

const HANGUL = /\p{Script=Hangul}/u;
// Four or more Latin words in a row: an English phrase or sentence left untranslated. Shorter runs
// are allowed for names and abbreviations in parentheses ("민간군사기업(PMC)", "ISW").
const ENGLISH_RUN = /[A-Za-z][A-Za-z'’.-]*(?:[\s,;:]+[A-Za-z][A-Za-z'’.-]*){3,}/;
const MARKDOWN: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /```/, what: 'a code fence (```)' },
  { pattern: /^\s*#{1,6}\s/m, what: 'a markdown heading (#)' },
  { pattern: /\*\*|__/, what: 'markdown emphasis (** or __)' },
  { pattern: /^\s*[-*•+]\s/m, what: 'a leading bullet ("- ")' },
  { pattern: /<\/?[a-z][a-z0-9]*(?:\s[^>]*)?>/i, what: 'an HTML tag' },
];
// A takeaway that starts "1. " or "2) ": the board numbers takeaways itself.
const NUMBERED = /^\s*\d+[.)]\s/;

/**
 * Everything wrong with a summary, as human-readable lines (empty when it is fine). The lines are
 * shown to operators and quoted to the model in the repair request, so each names the field and
 * says what is expected.
 */
export function validateSummary(draft: SummaryDraft, ctx: ValidationContext): string[] {
  const problems: string[] = [];
  const korean = (field: string, value: string, limits: { min: number; max: number }): void => {
    problems.push(...koreanTextProblems(field, value, limits, ctx.glossary));
  };

  korean('title_ko', draft.title_ko, SUMMARY_LIMITS.title);

  const takeaways = draft.key_takeaways_ko;
  if (ctx.expectedTakeaways === null) {
    if (takeaways.length < GENERIC_TAKEAWAYS.min || takeaways.length > GENERIC_TAKEAWAYS.max) {
      problems.push(
        `key_takeaways_ko: expected ${GENERIC_TAKEAWAYS.min} to ${GENERIC_TAKEAWAYS.max} main points, got ${takeaways.length}`,
      );
    }
  } else if (takeaways.length !== ctx.expectedTakeaways) {
    problems.push(
      `key_takeaways_ko: expected exactly ${ctx.expectedTakeaways} entries (one per key takeaway of the report, in order, none merged or dropped), got ${takeaways.length}`,
    );
  }
  takeaways.forEach((t, i) => {
    const field = `key_takeaways_ko[${i}]`;
    korean(field, t, SUMMARY_LIMITS.takeaway);
    if (NUMBERED.test(t))
      problems.push(`${field}: starts with a number; write the sentence without numbering`);
    const first = takeaways.indexOf(t);
    if (first !== i) problems.push(`${field}: repeats key_takeaways_ko[${first}]`);
  });

  const cats = draft.categories;
  if (cats.length < CATEGORY_COUNT.min || cats.length > CATEGORY_COUNT.max) {
    problems.push(
      `categories: expected ${CATEGORY_COUNT.min} to ${CATEGORY_COUNT.max} categories, got ${cats.length}`,
    );
  }
  cats.forEach((c, i) => {
    if (!ctx.categories.includes(c)) {
      problems.push(
        `categories[${i}]: ${JSON.stringify(c)} is not in the category list (${ctx.categories.join(', ')})`,
      );
    } else if (cats.indexOf(c) !== i) {
      problems.push(`categories[${i}]: ${JSON.stringify(c)} is listed twice`);
    }
  });

  if (draft.countries.length > MAX_COUNTRIES) {
    problems.push(`countries: at most ${MAX_COUNTRIES} countries, got ${draft.countries.length}`);
  }
  draft.countries.forEach((c, i) => {
    const field = `countries[${i}]`;
    if (!isValidIso2(c.iso2)) {
      problems.push(
        `${field}.iso2: ${JSON.stringify(c.iso2)} is not an ISO 3166-1 alpha-2 code (e.g. UA, RU, US)`,
      );
    } else if (draft.countries.findIndex((d) => d.iso2 === c.iso2) !== i) {
      problems.push(`${field}.iso2: ${c.iso2} is listed twice`);
    }
    if (c.note !== null) korean(`${field}.note`, c.note, SUMMARY_LIMITS.note);
  });

  korean('outlook_ko', draft.outlook_ko, SUMMARY_LIMITS.outlook);
  return problems;
}

/** The checks every Korean text field gets: Hangul, no markdown, no English left, glossary, length. */
function koreanTextProblems(
  field: string,
  value: string,
  limits: { readonly min: number; readonly max: number },
  glossary: Glossary,
): string[] {
  if (value.trim() === '') return [`${field}: is empty`];
  const problems: string[] = [];
  if (!HANGUL.test(value))
    problems.push(`${field}: has no Korean (Hangul) text: ${JSON.stringify(clip(value, 60))}`);
  for (const { pattern, what } of MARKDOWN) {
    if (pattern.test(value)) problems.push(`${field}: contains ${what}; write plain sentences`);
  }
  const english = ENGLISH_RUN.exec(value);
  if (english !== null) {
    problems.push(`${field}: English left untranslated: ${JSON.stringify(clip(english[0], 60))}`);
  }
  for (const entry of allEntries(glossary)) {
    for (const bad of entry.avoid) {
      if (value.includes(bad)) problems.push(`${field}: write "${entry.ko}" instead of "${bad}" (glossary)`);
    }
  }
  if (value.length < limits.min || value.length > limits.max) {
    problems.push(`${field}: ${value.length} characters; expected ${limits.min} to ${limits.max}`);
  }
  return problems;
}
