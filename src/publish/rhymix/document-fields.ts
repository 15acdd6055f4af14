import { createHash } from 'node:crypto';
import { load } from 'cheerio';
import type { Post } from '../post.js';
import { findUnsafeContent } from '../safety.js';
import { RhymixError } from './rhymix-error.js';
import type { RhymixSettings } from './rhymix-settings.js';

/**
 * What we send to `procBoardInsertDocument`, decided without I/O: the fields of a create or an
 * edit, the machine tag that finds the post again, and every check that must pass before a
 * request leaves (so unsafe or oversized content is never sent, and never counts towards the
 * spam filter).
 */

/** Rhymix's `documents.title` column is varchar(250); longer titles fail in the database. */
export const MAX_TITLE_CHARS = 250;

// A machine tag is lower-case letters, digits and single hyphens: it survives Rhymix's tag
// normalisation unchanged and the tag search matches it exactly (RHYMIX.md).
const PLAIN_TAG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_TAG_CHARS = 60;

/**
 * The unique tag that marks the post of `key` on the board: the key itself when it is already a
 * plain tag (`isw-ko-m1a2b3…`), else a slug of it plus 12 hex digits of its sha256.
 */
export function machineTagFor(key: string): string {
  if (PLAIN_TAG.test(key) && key.length <= MAX_TAG_CHARS) return key;
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_TAG_CHARS - 13)
    .replace(/-+$/, '');
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return `${slug === '' ? 'isw-ko' : slug}-${hash}`;
}

/** The board-side choices that shape every document (a slice of {@link RhymixSettings}). */
export type DocumentSettings = Pick<
  RhymixSettings,
  'mid' | 'tags' | 'allowComments' | 'sourceExtraVar' | 'maxContentKb'
>;

/** A create (no `documentSrl`) or an edit of `documentSrl`. */
export interface DocumentRequest {
  readonly post: Post;
  readonly settings: DocumentSettings;
  readonly categorySrl: number | null;
  readonly documentSrl: number | null;
}

/** Form fields in the order they are sent. */
export type Fields = readonly (readonly [string, string])[];

/**
 * The fields of a create or an edit. An edit replaces the whole document (fields left out are
 * reset: tags cleared, comments closed), so both send every field, always.
 */
export function documentFields(request: DocumentRequest): Fields {
  const { post, settings, categorySrl, documentSrl } = request;
  const fields: [string, string][] = [['mid', settings.mid]];
  if (documentSrl !== null) fields.push(['document_srl', String(documentSrl)]);
  if (categorySrl !== null) fields.push(['category_srl', String(categorySrl)]);
  fields.push(['title', post.title.trim()]);
  fields.push(['content', documentContent(post)]);
  fields.push(['tags', documentTags(post, settings.tags).join(',')]);
  // Absent means DENY on Rhymix: say it either way so an edit never closes comments by omission.
  fields.push(['comment_status', settings.allowComments ? 'ALLOW' : 'DENY']);
  if (settings.sourceExtraVar !== null) {
    fields.push([`extra_vars${settings.sourceExtraVar}`, post.sourceUrl ?? '']);
  }
  return fields;
}

/**
 * The body sent to the board: the template's HTML, plus a line linking the source when the
 * template did not already link it (a reader must always reach the original report).
 */
export function documentContent(post: Post): string {
  const html = post.html.trim();
  if (post.sourceUrl === null) return html;
  const $ = load(html, null, false);
  const linked = $('a[href]')
    .toArray()
    .some((a) => $(a).attr('href') === post.sourceUrl);
  if (linked) return html;
  const href = escapeHtml(post.sourceUrl);
  return `${html}\n<p><strong>원문</strong>: <a href="${href}">${href}</a></p>`;
}

/**
 * The post's tags, the configured tags, then the machine tag; commas removed (they separate
 * tags), blanks dropped, duplicates (ignoring case) kept once.
 */
export function documentTags(post: Pick<Post, 'key' | 'tags'>, extra: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of [...post.tags, ...extra, machineTagFor(post.key)]) {
    const tag = raw.replace(/,/g, ' ').replace(/\s+/g, ' ').trim();
    const folded = tag.toLowerCase();
    if (tag === '' || seen.has(folded)) continue;
    seen.add(folded);
    out.push(tag);
  }
  return out;
}

// Rhymix refuses any request value containing these (ERR_UNSAFE_VAR), whatever the field.
const UNSAFE_ANY_FIELD: readonly (readonly [RegExp, string])[] = [
  [/<\?/, 'a processing instruction (<?)'],
  [/<%/, 'a server tag (<%)'],
  [/<\s*script/i, 'a <script> element'],
];

/**
 * Throw before anything is sent when the board would refuse the fields or must not see them:
 * content outside what a non-admin member may post (`findUnsafeContent`: no class, script, `<?`,
 * event handlers, tracking links), `<?`/`<%`/`<script` in any field (Rhymix's `ERR_UNSAFE_VAR`),
 * a title over {@link MAX_TITLE_CHARS}, a body over the configured size limit, an empty title.
 */
export function assertSendable(fields: Fields, settings: Pick<DocumentSettings, 'maxContentKb'>): void {
  const problems: string[] = [];
  for (const [name, value] of fields) {
    for (const [pattern, what] of UNSAFE_ANY_FIELD) {
      if (pattern.test(value)) problems.push(`${what} in ${name}`);
    }
  }
  const content = valueOf(fields, 'content') ?? '';
  for (const problem of findUnsafeContent(content)) problems.push(`${problem} in content`);
  if (problems.length > 0) {
    throw new RhymixError(
      'BOARD_UNSAFE_CONTENT',
      `the post was not sent: ${[...new Set(problems)].join('; ')}`,
      {
        details: { problems: [...new Set(problems)] },
      },
    );
  }
  const title = valueOf(fields, 'title') ?? '';
  if (title === '') {
    throw new RhymixError('BOARD_UNSAFE_CONTENT', 'the post was not sent: its title is empty', {
      hint: 'the post template produced an empty title; report it as a template bug',
    });
  }
  // varchar(250) counts code points (utf8mb4), not UTF-16 units.
  const titleChars = Array.from(title).length;
  if (titleChars > MAX_TITLE_CHARS) {
    throw new RhymixError(
      'BOARD_TOO_LARGE',
      `the post was not sent: its title has ${titleChars} characters, the board stores at most ${MAX_TITLE_CHARS}`,
      { details: { titleChars }, hint: 'shorten the post title template' },
    );
  }
  const bytes = Buffer.byteLength(content, 'utf8');
  if (settings.maxContentKb !== null && bytes > settings.maxContentKb * 1024) {
    throw new RhymixError(
      'BOARD_TOO_LARGE',
      `the post was not sent: its body is ${Math.ceil(bytes / 1024)} KB, the board takes at most ${settings.maxContentKb} KB`,
      { details: { contentBytes: bytes, maxContentKb: settings.maxContentKb } },
    );
  }
}

/** The value of a field, or undefined. */
export function valueOf(fields: Fields, name: string): string | undefined {
  return fields.find(([n]) => n === name)?.[1];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
