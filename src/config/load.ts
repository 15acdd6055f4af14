import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { crossFieldProblems } from './cross-checks.js';
import { SETTINGS, type Env, type SettingName } from './settings.js';

export interface LoadConfigOptions {
  /** Variables to read; default `process.env`. Tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A dotenv file read first; the real environment wins over it. `null` reads none. */
  readonly envFile?: string | null;
}

/**
 * Read every setting once, at start-up, from the environment and `.env`, validate all of it, and
 * throw one {@link ConfigError} listing every problem with the variable's name and what it
 * expects: each variable's own form first, then what only a combination shows (a part half
 * configured, production requirements; see `cross-checks.ts`), so one run names them all. Nothing
 * connects to anything before this has returned.
 */
export function loadEnv(options: LoadConfigOptions = {}): Env {
  const { values: fromFile, problems: fileProblems } = readEnvFile(
    options.envFile === undefined ? '.env' : options.envFile,
  );
  // Empty strings count as unset: `FOO=` in a .env file should mean "use the default".
  const raw: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(options.env ?? process.env)) {
    if (value !== undefined) raw[key] = value;
  }
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [...fileProblems];
  const failed = new Set<string>();
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec = SETTINGS[name];
    const input = raw[name]?.trim();
    const result = spec.schema.safeParse(input === '' ? undefined : input);
    if (result.success) {
      values[name] = result.data;
    } else {
      problems.push(formProblem(name, input, result.error.issues));
      failed.add(name);
      // The cross-field checks below still run: they see this variable as unset (its default), and
      // what they would say about it is dropped, since its own problem is already listed.
      values[name] = spec.schema.safeParse(undefined).data;
    }
  }
  const env = values as Env;
  problems.push(...crossFieldProblems(env).filter((p) => !failed.has(p.variable)));
  if (problems.length > 0) throw new ConfigError(sortedLikeSettings(problems));
  return env;
}

/**
 * One variable of the wrong form, as one sentence: what was given and the setting's `expects`.
 * zod's own messages ("Invalid string: must match pattern /^(?:…$/") speak to programmers and
 * `expects` already says the same for people, so they are left out; the reasons our schemas give
 * in words (`refine`, code `custom`) are kept, but only when the form was otherwise right — a
 * port-range reason after "nonsense" would mislead.
 */
function formProblem(
  name: SettingName,
  input: string | undefined,
  issues: readonly z.core.$ZodIssue[],
): ConfigProblem {
  const spec = SETTINGS[name];
  const shown = spec.secret === true ? '(hidden)' : JSON.stringify(input);
  const reasons = issues.every((i) => i.code === 'custom') ? issues.map((i) => i.message) : [];
  return {
    variable: name,
    problem: reasons.length > 0 ? `got ${shown}: ${reasons.join('; ')}` : `got ${shown}`,
    expected: spec.expects,
  };
}

/** Problems in the order of the settings (the README's order), so a variable's group reads together. */
function sortedLikeSettings(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const order = Object.keys(SETTINGS);
  const rank = (p: ConfigProblem): number => {
    const i = order.indexOf(p.variable);
    return i < 0 ? order.length : i;
  };
  // Array.prototype.sort is stable: two problems of one variable keep their order.
  return [...problems].sort((a, b) => rank(a) - rank(b));
}

/**
 * The `.env` file's values, and what is wrong in it. dotenv skips a line it cannot read
 * (`LOG_LEVEL debug`) and keeps a name nothing reads (`RHYMIX_MIDD=isw`) without a word, so the
 * operator's setting silently does nothing: both are problems here. Only names in our own
 * namespace (the first word of a setting, e.g. RHYMIX_, IMAP_) count as typos; a .env shared with
 * other tools keeps its other names.
 */
function readEnvFile(file: string | null): { values: Record<string, string>; problems: ConfigProblem[] } {
  if (file === null) return { values: {}, problems: [] };
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) return { values: {}, problems: [] };
  const text = readFileSync(resolved, 'utf8');
  const values = dotenv.parse(text);
  const problems: ConfigProblem[] = [];
  const known = Object.keys(SETTINGS);
  const prefixes = new Set(known.map((name) => name.split('_')[0]).filter((p) => p !== 'NODE'));
  const where = path.basename(resolved);
  let inQuote: string | null = null;
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (inQuote !== null) {
      // A quoted value spanning lines (dotenv allows it) ends at its closing quote.
      if (trimmed.endsWith(inQuote)) inQuote = null;
      return;
    }
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(["'`]?)(.*)$/.exec(trimmed);
    if (m === null) {
      problems.push({
        variable: `${where} line ${i + 1}`,
        problem: `cannot be read: ${JSON.stringify(trimmed.slice(0, 60))}`,
        expected: 'NAME=value (or a # comment)',
      });
      return;
    }
    const [, name = '', quote = '', rest = ''] = m;
    if (quote !== '' && !rest.includes(quote)) inQuote = quote;
    if (known.includes(name) || !prefixes.has(name.split('_')[0] ?? '')) return;
    const guess = closest(name, known);
    problems.push({
      variable: name,
      problem: `(${where} line ${i + 1}) is not a setting isw-ko reads${guess === null ? '' : `; did you mean ${guess}?`}`,
      expected: 'a name from the README configuration table',
    });
  });
  return { values, problems };
}

/** The known name nearest to a typo (edit distance at most 3), or null. */
function closest(name: string, known: readonly string[]): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance <= 3 && (best === null || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name ?? null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The values of every secret setting that is set: the logger scrubs them from every line. */
export function secretValues(env: Env): string[] {
  const out: string[] = [];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const value = env[name];
    if (SETTINGS[name].secret === true && typeof value === 'string') {
      out.push(value);
      // A password inside a URL (redis://:pw@host) must be scrubbed on its own as well.
      const pw = passwordInUrl(value);
      if (pw !== undefined) out.push(pw);
    }
  }
  return out;
}

function passwordInUrl(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const pw = decodeURIComponent(new URL(value).password);
  return pw === '' ? undefined : pw;
}

/** The settings as a table for `isw-ko config`, secrets masked. */
export function describeEnv(env: Env): { variable: string; value: string; group: string }[] {
  return (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const value = env[name];
    const shown =
      value === undefined
        ? '(unset)'
        : SETTINGS[name].secret === true
          ? '(set, hidden)'
          : Array.isArray(value)
            ? value.join(',')
            : String(value);
    return { variable: name, value: shown, group: SETTINGS[name].group };
  });
}
