import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
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
  const hb = createEnvironment();
  const entries = await Promise.all(
    (Object.keys(NOTIFY_TEMPLATE_FILES) as (keyof NotifyTemplates)[]).map(async (role) => {
      const file = path.resolve(dir, NOTIFY_TEMPLATE_FILES[role]);
      let source: string;
      try {
        source = await readFile(file, 'utf8');
      } catch (err) {
        throw new NotifyError('TEMPLATE_INVALID', `cannot read the ${role} template ${file}`, {
          cause: err,
          details: { file },
        });
      }
      return [role, compile(hb, source, file, PLAIN_TEXT.has(role))] as const;
    }),
  );
  return Object.fromEntries(entries) as unknown as NotifyTemplates;
}

function compile(hb: typeof Handlebars, source: string, file: string, plainText: boolean): Renderer {
  try {
    // Handlebars compiles lazily, on first render: parse now so a syntax error shows at start-up.
    hb.parse(source);
  } catch (err) {
    throw new NotifyError('TEMPLATE_INVALID', `the template ${file} does not compile: ${String(err)}`, {
      cause: err,
      details: { file },
    });
  }
  const template = hb.compile(source, { strict: true, noEscape: plainText });
  return (view: unknown): string => {
    try {
      return template(view);
    } catch (err) {
      throw new NotifyError('TEMPLATE_INVALID', `the template ${file} failed to render: ${String(err)}`, {
        cause: err,
        details: { file },
      });
    }
  };
}
