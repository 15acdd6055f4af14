import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { AppError } from '../shared/app-error.js';
import { DEFAULT_TEMPLATES_DIR } from '../shared/paths.js';

/** The admin pages' templates (each a whole page; `layout` is a partial they wrap themselves in). */
export interface AdminTemplates {
  readonly login: (view: unknown) => string;
  readonly reports: (view: unknown) => string;
  readonly report: (view: unknown) => string;
  readonly jobs: (view: unknown) => string;
  readonly quarantine: (view: unknown) => string;
  readonly message: (view: unknown) => string;
}

const PAGES = [
  'login',
  'reports',
  'report',
  'jobs',
  'quarantine',
  'message',
] as const satisfies readonly (keyof AdminTemplates)[];

/** The admin templates shipped with isw-ko (`templates/admin/`). Not under TEMPLATES_DIR: they are not meant to be restyled. */
export const DEFAULT_ADMIN_TEMPLATES_DIR = path.join(DEFAULT_TEMPLATES_DIR, 'admin');

/**
 * Read and compile the admin templates: a private Handlebars environment (no helpers shared with
 * the post or digest templates), HTML escaping on for every value, strict mode so a misspelt field
 * fails loudly instead of printing nothing.
 *
 * @throws AppError `TEMPLATE_INVALID` when a file is missing or does not compile
 */
export async function loadAdminTemplates(dir: string = DEFAULT_ADMIN_TEMPLATES_DIR): Promise<AdminTemplates> {
  const hb = Handlebars.create();
  const read = async (name: string): Promise<string> => {
    const file = path.join(dir, `${name}.hbs`);
    try {
      const source = await readFile(file, 'utf8');
      // Parse now so a syntax error surfaces at start-up, not on the first page view.
      hb.parse(source);
      return source;
    } catch (err) {
      throw new AppError('TEMPLATE_INVALID', 'bug', `the admin template ${file} cannot be read or compiled`, {
        cause: err,
        hint: 'restore templates/admin/ from the repository',
      });
    }
  };
  hb.registerPartial('layout', await read('layout'));
  const entries = await Promise.all(
    PAGES.map(async (name) => [name, hb.compile(await read(name), { strict: true })] as const),
  );
  return Object.fromEntries(entries) as unknown as AdminTemplates;
}
