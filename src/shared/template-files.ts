import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type Handlebars from 'handlebars';

/** A compiled template: view in, text out. */
export type CompiledTemplate = (view: unknown) => string;

/** How a stage reports a template problem (its own error class, code TEMPLATE_INVALID). */
export type TemplateFailure = (message: string, file: string, cause: unknown) => Error;

/**
 * Read and compile a set of templates (role → file name under `dir`) on one Handlebars
 * environment, strict mode, plain-text roles without HTML escaping. Shared by the post, board and
 * digest templates; each stage passes its own error for a missing, broken or failing template.
 */
export async function loadTemplateFiles<Role extends string>(options: {
  readonly hb: typeof Handlebars;
  readonly dir: string;
  readonly files: Readonly<Record<Role, string>>;
  readonly plainText: ReadonlySet<Role>;
  readonly fail: TemplateFailure;
}): Promise<Record<Role, CompiledTemplate>> {
  const { hb, dir, files, plainText, fail } = options;
  const entries = await Promise.all(
    (Object.keys(files) as Role[]).map(async (role) => {
      const file = path.resolve(dir, files[role]);
      let source: string;
      try {
        source = await readFile(file, 'utf8');
      } catch (err) {
        throw fail(`cannot read the ${role} template ${file}`, file, err);
      }
      return [role, compileTemplate(hb, source, file, plainText.has(role), fail)] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<Role, CompiledTemplate>;
}

function compileTemplate(
  hb: typeof Handlebars,
  source: string,
  file: string,
  plainText: boolean,
  fail: TemplateFailure,
): CompiledTemplate {
  try {
    // Handlebars compiles lazily, on the first render: parse now so a syntax error surfaces when the
    // templates are loaded at start-up, not in the middle of a job.
    hb.parse(source);
  } catch (err) {
    throw fail(`the template ${file} does not compile: ${String(err)}`, file, err);
  }
  const template = hb.compile(source, { strict: true, noEscape: plainText });
  return (view: unknown): string => {
    try {
      return template(view);
    } catch (err) {
      throw fail(`the template ${file} failed to render: ${String(err)}`, file, err);
    }
  };
}
