import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { SETTINGS, type Env, type SettingName } from './settings.js';

export interface LoadConfigOptions {
  /** Variables to read; default `process.env`. Tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A dotenv file read first; the real environment wins over it. `null` reads none. */
  readonly envFile?: string | null;
}

/**
 * Read every setting once, at start-up, from the environment and `.env`, validate all of them,
 * and throw one {@link ConfigError} listing every problem with the variable's name and what it
 * expects. Nothing connects to anything before this has returned.
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
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec = SETTINGS[name];
    const input = raw[name]?.trim();
    const result = spec.schema.safeParse(input === '' ? undefined : input);
    if (result.success) {
      values[name] = result.data;
    } else {
      const shown = spec.secret === true ? '(hidden)' : JSON.stringify(input);
      problems.push({
        variable: name,
        problem: `got ${shown}: ${result.error.issues.map((i) => i.message).join('; ')}`,
        expected: spec.expects,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as Env;
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
