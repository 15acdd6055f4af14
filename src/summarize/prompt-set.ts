import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { GLOSSARY_FILE_SCHEMA, glossaryContradictions, type Glossary } from './glossary.js';
import { PromptError } from './prompt-error.js';

/** Variables of prompts/user.hbs. */
export interface UserTemplateInput {
  /** Number of key takeaways of the report; 0 when it has none (then 3–7 main points are asked). */
  readonly takeawayCount: number;
  /** The category names, joined for display. */
  readonly categoryList: string;
  /** Glossary entries relevant to this report, one line each. */
  readonly glossaryLines: readonly string[];
  /** The report as JSON, with `<` and `>` escaped so it can never close its delimiters. */
  readonly reportJson: string;
}

/** Variables of prompts/repair.hbs. */
export interface RepairTemplateInput {
  /** The problems of the previous answer, one line each. */
  readonly problems: readonly string[];
}

/** Everything the prompts/ folder holds, loaded and checked. */
export interface PromptSet {
  readonly system: string;
  readonly userTemplate: Handlebars.TemplateDelegate<UserTemplateInput>;
  /** Sent with the problems when an answer fails validation. */
  readonly repairTemplate: Handlebars.TemplateDelegate<RepairTemplateInput>;
  readonly glossary: Glossary;
  /** The fixed category list; a summary picks one to three. */
  readonly categories: readonly string[];
  /** First 12 hex of sha256 over every prompt file: stored with each summary. */
  readonly version: string;
}

/** The files of a prompt folder, in the order they are hashed. */
export const PROMPT_FILES = {
  system: 'system.md',
  user: 'user.hbs',
  repair: 'repair.hbs',
  glossary: 'glossary.json',
  categories: 'categories.json',
} as const;

const CATEGORIES_FILE_SCHEMA = z.object({
  categories: z
    .array(z.string().trim().min(1))
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'categories must not repeat'),
});

/**
 * The project's prompts/ folder, found from this module's location (walking up to package.json) so it
 * works from src/ through tsx and from dist/ alike, whatever the working directory.
 */
export const DEFAULT_PROMPTS_DIR: string = path.join(packageRoot(), 'prompts');

/**
 * Read and check the prompt files under `dir` (default: the project's prompts/ folder). Throws
 * {@link PromptError} listing what is wrong; call it at start-up so a broken glossary stops the
 * service before any job runs.
 */
export async function loadPrompts(dir: string = DEFAULT_PROMPTS_DIR): Promise<PromptSet> {
  const files: Record<keyof typeof PROMPT_FILES, string> = {
    system: await readPromptFile(dir, PROMPT_FILES.system),
    user: await readPromptFile(dir, PROMPT_FILES.user),
    repair: await readPromptFile(dir, PROMPT_FILES.repair),
    glossary: await readPromptFile(dir, PROMPT_FILES.glossary),
    categories: await readPromptFile(dir, PROMPT_FILES.categories),
  };
  const glossary = parseJsonFile(dir, PROMPT_FILES.glossary, files.glossary, GLOSSARY_FILE_SCHEMA);
  const contradictions = glossaryContradictions(glossary);
  if (contradictions.length > 0) {
    throw new PromptError(
      'PROMPTS_INVALID',
      `${path.join(dir, PROMPT_FILES.glossary)} contradicts itself:\n${contradictions.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  const { categories } = parseJsonFile(
    dir,
    PROMPT_FILES.categories,
    files.categories,
    CATEGORIES_FILE_SCHEMA,
  );
  return {
    system: files.system.trim(),
    userTemplate: compile<UserTemplateInput>(dir, PROMPT_FILES.user, files.user),
    repairTemplate: compile<RepairTemplateInput>(dir, PROMPT_FILES.repair, files.repair),
    glossary,
    categories,
    version: promptVersion(files),
  };
}

/** sha256 over the file names and contents (in {@link PROMPT_FILES} order), first 12 hex. */
export function promptVersion(files: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    // Name and length prefixes: moving text between two files must change the version too.
    const content = files[name] ?? '';
    hash.update(`${name}\0${Buffer.byteLength(content)}\0`).update(content);
  }
  return hash.digest('hex').slice(0, 12);
}

async function readPromptFile(dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PromptError('PROMPTS_MISSING', `Cannot read the prompt file ${file}`, {
      cause: err,
      hint: `restore ${name} from the repository, or point the summarizer at a complete prompts folder`,
    });
  }
}

function parseJsonFile<T extends z.ZodType>(
  dir: string,
  name: string,
  content: string,
  schema: T,
): z.output<T> {
  const file = path.join(dir, name);
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    throw new PromptError('PROMPTS_INVALID', `${file} is not valid JSON`, { cause: err });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PromptError('PROMPTS_INVALID', `${file} is malformed:\n${lines.join('\n')}`);
  }
  return result.data;
}

function compile<T>(dir: string, name: string, source: string): Handlebars.TemplateDelegate<T> {
  try {
    // noEscape: the prompt is plain text, not HTML (&quot; would reach the model). strict: a
    // misspelt variable fails loudly instead of vanishing from the prompt.
    const template = Handlebars.compile<T>(source, { noEscape: true, strict: true });
    // Handlebars compiles lazily: precompile now so a syntax error surfaces at start-up.
    Handlebars.precompile(source);
    return template;
  } catch (err) {
    throw new PromptError('PROMPTS_INVALID', `${path.join(dir, name)} is not a valid Handlebars template`, {
      cause: err,
    });
  }
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}
