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
  const fromFile = readEnvFile(options.envFile === undefined ? '.env' : options.envFile);
  // Empty strings count as unset: `FOO=` in a .env file should mean "use the default".
  const raw: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(options.env ?? process.env)) {
    if (value !== undefined) raw[key] = value;
  }
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
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

function readEnvFile(file: string | null): Record<string, string> {
  if (file === null) return {};
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) return {};
  return dotenv.parse(readFileSync(resolved));
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
