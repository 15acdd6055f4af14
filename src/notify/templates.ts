import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { loadTemplateFiles } from '../shared/template-files.js';
import { NotifyError } from './notify-error.js';

/** A compiled template: takes its view, returns text. */
export type Renderer = (view: unknown) => string;

/** The notify stage's templates (views are typed where they are built). */
export interface NotifyTemplates {
  /** Digest email, HTML part (before inlining). */
  readonly digestHtml: Renderer;
  /** Digest email, plain-text part. */
  readonly digestText: Renderer;
  readonly confirmHtml: Renderer;
  readonly confirmText: Renderer;
  /** The public subscribe form. */
  readonly subscribePage: Renderer;
  /** The other public pages (confirm, unsubscribe, results). */
  readonly publicPage: Renderer;
}

/** File names under the templates directory, by role. */
export const NOTIFY_TEMPLATE_FILES = {
  digestHtml: 'digest-html.hbs',
  digestText: 'digest-text.hbs',
  confirmHtml: 'confirm-html.hbs',
  confirmText: 'confirm-text.hbs',
  subscribePage: 'subscribe-page.hbs',
  publicPage: 'public-page.hbs',
} as const satisfies Record<keyof NotifyTemplates, string>;

/** Plain-text templates: Handlebars' HTML escaping would turn `&` into `&amp;` there. */
const PLAIN_TEXT: ReadonlySet<keyof NotifyTemplates> = new Set(['digestText', 'confirmText']);

/**
 * The templates directory: `templates/` in the working directory (how isw-ko is run, and the Docker
 * image's layout), else the one beside the sources — from `src/notify/` in a checkout, from
 * `dist/src/notify/` when compiled — so a worker started from elsewhere still finds it.
 */
export function defaultTemplatesDir(): string {
  const candidates = [
    path.resolve('templates'),
    fileURLToPath(new URL('../../templates/', import.meta.url)),
    fileURLToPath(new URL('../../../templates/', import.meta.url)),
  ];
  return (
    candidates.find((dir) => existsSync(path.join(dir, NOTIFY_TEMPLATE_FILES.digestHtml))) ??
    path.resolve('templates')
  );
}

/** A private Handlebars environment: our helpers neither leak into nor depend on other stages'. */
function createEnvironment(): typeof Handlebars {
  const hb = Handlebars.create();
  /** 1-based numbering in plain-text lists (`@index` is 0-based). */
  hb.registerHelper('inc', (value: unknown) => (typeof value === 'number' ? value + 1 : value));
  /**
   * A link target: only http(s), mailto and same-site paths pass (anything else, `javascript:` say, becomes `#`), and
   * only what a quoted attribute needs is escaped — Handlebars' own escaping would also turn every
   * `=` of a query string into `&#x3D;`, correct HTML that still confuses people and some filters.
   */
  hb.registerHelper('url', (value: unknown) => {
    const text = typeof value === 'string' ? value.trim() : '';
    const safe = /^(?:https?:\/\/|mailto:|\/(?!\/))/i.test(text) ? text : '#';
    return new hb.SafeString(
      safe
        .replace(/&/g, '&amp;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&#39;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;'),
    );
  });
  return hb;
}

/**
 * Read and compile the notify templates. Strict mode: a misspelt field fails the render instead of
 * printing nothing.
 *
 * @throws NotifyError `TEMPLATE_INVALID` when a file is missing or does not compile
 */
export async function loadNotifyTemplates(dir: string = defaultTemplatesDir()): Promise<NotifyTemplates> {
  const compiled = await loadTemplateFiles({
    hb: createEnvironment(),
    dir,
    files: NOTIFY_TEMPLATE_FILES,
    plainText: PLAIN_TEXT,
    fail: (message, file, cause) =>
      new NotifyError('TEMPLATE_INVALID', message, { cause, details: { file } }),
  });
  return compiled;
}
