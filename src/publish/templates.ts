import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { loadTemplateFiles } from '../shared/template-files.js';
import type { BoardIndexView, BoardPageView } from './board-pages.js';
import { PublishError } from './publish-error.js';
import type { PostBodyView, PostTitleView } from './render-post.js';

/** A compiled template: takes its view, returns text. */
export type Renderer<T> = (view: T) => string;

/**
 * The compiled templates of a post and of the file board's pages, each typed by the view it is
 * given (defined beside the code that builds it): templates see only what those views hold.
 */
export interface PostTemplates {
  /** Post title, plain text (compiled without HTML escaping). */
  readonly title: Renderer<PostTitleView>;
  /** Post body, an HTML fragment of simple tags. */
  readonly body: Renderer<PostBodyView>;
  /** Post body as plain text (compiled without HTML escaping). */
  readonly text: Renderer<PostBodyView>;
  /** A standalone HTML page of one post (the file board). */
  readonly page: Renderer<BoardPageView>;
  /** The file board's index page. */
  readonly index: Renderer<BoardIndexView>;
}

/** File names under the templates directory, by role. */
export const TEMPLATE_FILES = {
  title: 'post-title.hbs',
  body: 'post-body.hbs',
  text: 'post-text.hbs',
  page: 'board-page.hbs',
  index: 'board-index.hbs',
} as const satisfies Record<keyof PostTemplates, string>;

/** Which templates produce plain text: Handlebars' HTML escaping would turn `&` into `&amp;` there. */
const PLAIN_TEXT: ReadonlySet<keyof PostTemplates> = new Set(['title', 'text']);

/**
 * A private Handlebars environment: helpers registered here do not leak into (or get replaced by)
 * other users of the `handlebars` module, such as the digest templates.
 */
function createEnvironment(): typeof Handlebars {
  const hb = Handlebars.create();
  /** Escaped text with its line breaks kept as `<br>`: a paragraph may hold several lines. */
  hb.registerHelper('lines', (value: unknown) => {
    const text = typeof value === 'string' ? value : '';
    return new hb.SafeString(
      text
        .split(/\r?\n/)
        .map((line) => hb.escapeExpression(line))
        .join('<br>\n'),
    );
  });
  /** 1-based numbering in plain-text lists (`@index` is 0-based). */
  hb.registerHelper('inc', (value: unknown) => (typeof value === 'number' ? value + 1 : value));
  return hb;
}

/**
 * The `templates/` directory shipped with isw-ko, found from this module's place in the package
 * (`src/publish/` when run from the sources, `dist/src/publish/` when compiled), so the default
 * does not depend on the working directory. Falls back to `./templates`.
 */
export function defaultTemplatesDir(): string {
  for (const up of ['../../templates/', '../../../templates/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path.join(dir, TEMPLATE_FILES.body))) return dir;
  }
  return path.resolve('templates');
}

/**
 * Read and compile the post and board templates from `dir` (TEMPLATES_DIR; default: the shipped
 * ones, see {@link defaultTemplatesDir}). Templates compile in strict mode: a misspelt field fails
 * the render instead of printing nothing.
 *
 * @throws PublishError `TEMPLATE_INVALID` when a file is missing or does not compile.
 */
export async function loadPostTemplates(dir: string = defaultTemplatesDir()): Promise<PostTemplates> {
  const compiled = await loadTemplateFiles({
    hb: createEnvironment(),
    dir,
    files: TEMPLATE_FILES,
    plainText: PLAIN_TEXT,
    fail: (message, file, cause) =>
      new PublishError('TEMPLATE_INVALID', message, { cause, details: { file } }),
  });
  return compiled;
}
