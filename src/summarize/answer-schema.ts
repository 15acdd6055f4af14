import { z } from 'zod';

/** The `json_schema.name` sent with every request (a-z, 0-9, _ and - only, per the API). */
export const SUMMARY_SCHEMA_NAME = 'isw_ko_summary';

/** Main points asked of a report without a key takeaways list. */
export const GENERIC_TAKEAWAYS = { min: 3, max: 7 } as const;
/** Categories per summary. */
export const CATEGORY_COUNT = { min: 1, max: 3 } as const;
/** Countries per summary. */
export const MAX_COUNTRIES = 10;

/** What the model is asked to return. Korean country names are not asked: code maps iso2 to them. */
export interface ModelAnswer {
  readonly title_ko: string;
  readonly key_takeaways_ko: readonly string[];
  readonly categories: readonly string[];
  readonly countries: readonly { readonly iso2: string; readonly note: string | null }[];
  readonly outlook_ko: string;
}

/**
 * The JSON schema of `response_format` for one report. Strict structured outputs require every
 * property to be listed in `required` and `additionalProperties: false` on every object. The takeaway
 * count is pinned with minItems/maxItems so constrained decoders (OpenAI, Ollama, vLLM) cannot
 * produce another count; validation checks it again for servers that ignore the schema.
 *
 * @param takeawayCount the report's number of key takeaways, or null for 3–7 main points.
 */
export function summaryJsonSchema(
  categories: readonly string[],
  takeawayCount: number | null,
): Record<string, unknown> {
  const count =
    takeawayCount === null
      ? { minItems: GENERIC_TAKEAWAYS.min, maxItems: GENERIC_TAKEAWAYS.max }
      : { minItems: takeawayCount, maxItems: takeawayCount };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['title_ko', 'key_takeaways_ko', 'categories', 'countries', 'outlook_ko'],
    properties: {
      title_ko: { type: 'string', description: 'The report title in Korean.' },
      key_takeaways_ko: {
        type: 'array',
        description: 'One Korean entry per key takeaway of the report, same order.',
        items: { type: 'string' },
        ...count,
      },
      categories: {
        type: 'array',
        items: { type: 'string', enum: [...categories] },
        minItems: CATEGORY_COUNT.min,
        maxItems: CATEGORY_COUNT.max,
      },
      countries: {
        type: 'array',
        maxItems: MAX_COUNTRIES,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['iso2', 'note'],
          properties: {
            iso2: { type: 'string', description: 'ISO 3166-1 alpha-2 code, upper case.' },
            note: { type: ['string', 'null'], description: 'Its role in the report, in Korean.' },
          },
        },
      },
      outlook_ko: { type: 'string', description: 'What to expect next, in Korean.' },
    },
  };
}

const ANSWER_SCHEMA = z.object({
  title_ko: z.string().trim(),
  key_takeaways_ko: z.array(z.string().trim()),
  categories: z.array(z.string().trim()),
  countries: z.array(
    z.object({
      iso2: z
        .string()
        .trim()
        .transform((v) => v.toUpperCase()),
      // Some models write "" for "no note"; the contract's "no note" is null.
      note: z
        .string()
        .trim()
        .nullable()
        .transform((v) => (v === '' ? null : v)),
    }),
  ),
  outlook_ko: z.string().trim(),
});

/** The outcome of reading one answer: the parsed answer, or why it could not be read. */
export type ParsedAnswer =
  | { readonly ok: true; readonly answer: ModelAnswer; readonly unwrappedFence: boolean }
  | { readonly ok: false; readonly problems: readonly string[] };

// A whole answer wrapped in one Markdown code fence (```json … ```), as chat-tuned models do when the
// server ignores response_format (older Ollama builds, some proxies).
const FENCED = /^\s*```[a-zA-Z]*[ \t]*\r?\n([\s\S]*?)\r?\n?```\s*$/;

/**
 * Read the model's message content as a summary answer. A single code fence around the whole JSON is
 * removed (the fields inside are still checked for markdown by validation); anything else that is
 * not JSON of the right shape is reported as problems, which go into the repair request.
 */
export function parseAnswer(content: string | null | undefined): ParsedAnswer {
  if (content === null || content === undefined || content.trim() === '') {
    return { ok: false, problems: ['the answer is empty: expected one JSON object'] };
  }
  const fenced = FENCED.exec(content);
  const body = fenced?.[1] ?? content;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    const reason = err instanceof SyntaxError ? err.message : String(err);
    return {
      ok: false,
      problems: [
        `the answer is not JSON (${reason}); it begins ${JSON.stringify(clip(content, 80))}. Answer with the JSON object only`,
      ],
    };
  }
  const result = ANSWER_SCHEMA.safeParse(json);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map(
        (i) => `${i.path.length === 0 ? 'the answer' : i.path.join('.')}: ${i.message}`,
      ),
    };
  }
  return { ok: true, answer: result.data, unwrappedFence: fenced !== null };
}

/** Shorten text for a problem message. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
