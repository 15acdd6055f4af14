import { load } from 'cheerio';
import { isDocument, isTag, isText, type AnyNode } from 'domhandler';
import { PublishError } from './publish-error.js';
import { containsEmailAddress, isTrackingHost, TRACKING_TEXT } from './tracking.js';

/**
 * The only tags a post may contain. Rhymix lets a non-admin member post simple markup but strips
 * (or refuses) `class`, scripts and `<?`; keeping to this list means every board shows the post
 * the same way and nothing in an email can smuggle markup through a template mistake.
 */
export const ALLOWED_TAGS: ReadonlySet<string> = new Set([
  'h2',
  'h3',
  'p',
  'ul',
  'ol',
  'li',
  'a',
  'strong',
  'br',
]);

/** Attributes allowed per tag; every other attribute is a problem. */
const ALLOWED_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = { a: ['href'] };

// Raw-text checks. Handlebars escapes `<`, `>`, `"`, `'`, `=` and backtick in every value, so none of
// these can come from escaped email text: if one matches, a template or a helper emitted it.
const RAW_CHECKS: readonly (readonly [RegExp, string])[] = [
  [/<\s*script/i, 'a <script> element'],
  [/<\?/, 'a processing instruction (<?)'],
  [/<!/, 'a comment, doctype or CDATA section (<!)'],
  [/\bclass\s*=/i, 'a class attribute'],
  [/\bstyle\s*=/i, 'a style attribute'],
  [/\son[a-z]+\s*=/i, 'an event handler attribute (on…=)'],
];

// The check is a pure function of the string, and one post's HTML is checked three times on its
// way out (renderer, board adapter, page renderer): parsing it with parse5 each time was the
// publish stage's largest CPU cost. Only safe results are remembered, keyed by the whole string
// (a Set compares strings by value), and only the last few, so the cache stays small.
const KNOWN_SAFE_MAX = 32;
const KNOWN_SAFE = new Set<string>();

function rememberSafe(html: string): void {
  KNOWN_SAFE.add(html);
  if (KNOWN_SAFE.size > KNOWN_SAFE_MAX) {
    const oldest = KNOWN_SAFE.values().next();
    if (oldest.done !== true) KNOWN_SAFE.delete(oldest.value);
  }
}

/**
 * Every reason `html` must not be published, empty when it is safe: markup outside the allowed
 * tags and attributes, a script, an event handler, a `javascript:` (or any non-http) URL, a class,
 * `<?`, a Constant Contact tracking link (rs6.net, constantcontact, ccsend) or an email address,
 * in the markup or in the text a reader sees.
 */
export function findUnsafeContent(html: string): string[] {
  if (KNOWN_SAFE.has(html)) return [];
  const problems = new Set<string>();
  for (const [pattern, what] of RAW_CHECKS) if (pattern.test(html)) problems.add(what);
  if (TRACKING_TEXT.test(html)) problems.add('a Constant Contact tracking host');
  if (containsEmailAddress(html)) problems.add('an email address');

  // Entities can hide what the raw checks look for (`java&#x73;cript:`, `&#64;`): check the decoded
  // text and attribute values too, as the browser will see them.
  const $ = load(html, { xml: false }, false);
  const visit = (node: AnyNode): void => {
    if (isText(node)) {
      if (TRACKING_TEXT.test(node.data)) problems.add('a Constant Contact tracking host');
      if (containsEmailAddress(node.data)) problems.add('an email address');
    } else if (isDocument(node)) {
      for (const child of node.children) visit(child);
    } else if (isTag(node)) {
      // <script> and <style> are tags too (type "script"/"style"): not in ALLOWED_TAGS, so refused here.
      const tag = node.name.toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) problems.add(`a <${tag}> element`);
      const allowed = ALLOWED_ATTRIBUTES[tag] ?? [];
      for (const [name, value] of Object.entries(node.attribs)) {
        if (!allowed.includes(name.toLowerCase())) problems.add(`a ${name} attribute on <${tag}>`);
        checkAttributeValue(value, problems);
      }
      if (tag === 'a') checkHref(node.attribs['href'], problems);
      for (const child of node.children) visit(child);
    } else {
      // Comments, directives, CDATA: never produced by our templates.
      problems.add(`a ${node.type} node`);
    }
  };
  for (const node of $.root().toArray()) visit(node);
  if (problems.size === 0) rememberSafe(html);
  return [...problems];
}

/**
 * Throw `UNSAFE_CONTENT` when the post's HTML is not safe to publish (see {@link findUnsafeContent}).
 * The renderer calls it on every post and every adapter calls it again before sending, so a
 * template edited by hand cannot publish a script or leak the subscriber's tracking links.
 */
export function assertSafePostHtml(html: string): void {
  const problems = findUnsafeContent(html);
  if (problems.length > 0) {
    throw new PublishError('UNSAFE_CONTENT', `the post HTML is not safe to publish: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

/**
 * Throw `UNSAFE_CONTENT` when plain text (the post's title or `text`) carries a tracking link or
 * an email address. Markup does not matter here: plain text is escaped by whoever shows it.
 */
export function assertSafePostText(text: string, what: string): void {
  const problems: string[] = [];
  if (TRACKING_TEXT.test(text)) problems.push('a Constant Contact tracking host');
  if (containsEmailAddress(text)) problems.push('an email address');
  if (problems.length > 0) {
    throw new PublishError(
      'UNSAFE_CONTENT',
      `the post ${what} is not safe to publish: ${problems.join('; ')}`,
      {
        details: { problems },
      },
    );
  }
}

function checkAttributeValue(value: string, problems: Set<string>): void {
  if (TRACKING_TEXT.test(value)) problems.add('a Constant Contact tracking host');
  if (containsEmailAddress(value) || containsEmailAddress(safeDecode(value)))
    problems.add('an email address');
}

function checkHref(href: string | undefined, problems: Set<string>): void {
  if (href === undefined) return;
  // Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:").
  // eslint-disable-next-line no-control-regex
  const compact = href.replace(/[\u0000-\u0020]/g, '');
  const url = URL.parse(compact);
  if (url === null) {
    problems.add('a link that is not an absolute URL');
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.add(url.protocol === 'javascript:' ? 'a javascript: URL' : `a ${url.protocol} URL`);
  }
  if (isTrackingHost(url.hostname)) problems.add('a Constant Contact tracking host');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    // Not %-encoded text: the raw value was already checked.
    return value;
  }
}
