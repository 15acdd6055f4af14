import { z } from 'zod';

/** One standard Korean spelling. */
export interface GlossaryEntry {
  /** English forms to recognise in a report (the first is the canonical one). */
  readonly en: readonly string[];
  /** The one Korean spelling to use. */
  readonly ko: string;
  /** Wrong Korean variants: any of them in an answer is a validation problem. */
  readonly avoid: readonly string[];
}

/** A country whose Korean name differs from i18n-iso-countries' 'ko' locale. */
export interface CountryEntry extends GlossaryEntry {
  /** ISO 3166-1 alpha-2, upper case. */
  readonly iso2: string;
}

/** The machine-readable glossary (prompts/glossary.json). */
export interface Glossary {
  /** ISW product names: the Korean form is used in post titles. */
  readonly products: readonly GlossaryEntry[];
  /** Places, people and bodies. */
  readonly terms: readonly GlossaryEntry[];
  readonly countries: readonly CountryEntry[];
}

const text = z.string().trim().min(1);
// Operators may write a single English form as a plain string.
const enForms = z.union([text, z.array(text)]).transform((v) => (typeof v === 'string' ? [v] : v));
const entry = z.object({ en: enForms, ko: text, avoid: z.array(text).default([]) });

/** The file's schema; `$comment` and other extra keys are ignored. */
export const GLOSSARY_FILE_SCHEMA = z.object({
  products: z.array(entry).default([]),
  terms: z.array(entry).default([]),
  countries: z
    .array(
      entry.extend({
        en: enForms.default([]),
        iso2: z
          .string()
          .trim()
          .regex(/^[A-Za-z]{2}$/, 'expected an ISO 3166-1 alpha-2 code')
          .transform((v) => v.toUpperCase()),
      }),
    )
    .default([]),
});

/** Every entry of a glossary, countries included. */
export function allEntries(glossary: Glossary): readonly GlossaryEntry[] {
  return [...glossary.products, ...glossary.terms, ...glossary.countries];
}

/**
 * Contradictions that would make validation flag correct text: an `avoid` variant that occurs inside
 * a correct Korean form ("크림" inside "크림반도") would turn every correct use into a problem.
 */
export function glossaryContradictions(glossary: Glossary): string[] {
  const problems: string[] = [];
  const entries = allEntries(glossary);
  for (const e of entries) {
    for (const bad of e.avoid) {
      const clash = entries.find((other) => other.ko.includes(bad));
      if (clash !== undefined) {
        problems.push(`avoid variant "${bad}" (of "${e.ko}") occurs inside the correct form "${clash.ko}"`);
      }
    }
  }
  const seen = new Set<string>();
  for (const c of glossary.countries) {
    if (seen.has(c.iso2)) problems.push(`country ${c.iso2} is listed twice`);
    seen.add(c.iso2);
  }
  return problems;
}

/** The product entry for a report's product name (case-insensitive), or undefined when unknown. */
export function findProduct(glossary: Glossary, product: string | null): GlossaryEntry | undefined {
  if (product === null) return undefined;
  const wanted = normalise(product);
  return glossary.products.find((p) => p.en.some((en) => normalise(en) === wanted));
}

/**
 * The entries whose English form occurs in `text`, in glossary order: only these are sent to the
 * model, which keeps the prompt short. All-capital forms (EU, PMC) match case-sensitively so that
 * ordinary words do not trigger them; the others ignore case.
 */
export function entriesMentionedIn(glossary: Glossary, text: string): GlossaryEntry[] {
  return allEntries(glossary).filter((e) => e.en.some((en) => mentions(text, en)));
}

// Compiled once per term: every summary checks every glossary term against the report.
const MENTION_PATTERNS = new Map<string, RegExp>();

function mentions(text: string, en: string): boolean {
  let pattern = MENTION_PATTERNS.get(en);
  if (pattern === undefined) {
    const caseSensitive = en === en.toUpperCase();
    const escaped = en.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Unicode-aware word edges: \b does not understand "Türkiye".
    pattern = new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, caseSensitive ? 'u' : 'iu');
    MENTION_PATTERNS.set(en, pattern);
  }
  return pattern.test(text);
}

function normalise(s: string): string {
  return s.trim().replace(/\s+/g, ' ').toLowerCase();
}
