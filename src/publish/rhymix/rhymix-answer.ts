/**
 * Reading Rhymix/XE JSON answers (RHYMIX.md "Responses"). Pure: no I/O. The board answers HTTP 200
 * even when it refuses, so success is `error === 0` and nothing else; messages are localised
 * Korean and only ever shown to people.
 */

/** `errorDetail` of a failed CSRF check (Rhymix; XE 1.x gives no detail). */
export const ERR_CSRF_CHECK_FAILED = 'ERR_CSRF_CHECK_FAILED';
/** `errorDetail` of a request value containing `<?`, `<%` (or `<script` from a non-admin). */
export const ERR_UNSAFE_VAR = 'ERR_UNSAFE_VAR';

/** One JSON answer of `index.php`. */
export interface RhymixAnswer {
  /** 0 on success; -1 or -2 on failure. */
  readonly error: number;
  /** Localised text, for people and logs only: never branch on it. */
  readonly message: string;
  /** A machine-readable reason, when the board gives one. */
  readonly errorDetail: string | null;
  /** The whole answer, for the action's own fields (`document_srl`, `document_list`, …). */
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * The answer in `text`, or null when it is not a board answer (HTML, an empty body, JSON
 * without a numeric `error`): the URL is then not a Rhymix/XE `index.php` answering in JSON.
 */
export function parseAnswer(text: string): RhymixAnswer | null {
  let value: unknown;
  try {
    // Some PHP setups print a UTF-8 BOM or whitespace before the JSON.
    value = JSON.parse(text.replace(/^\uFEFF/, '').trim());
  } catch {
    // Not JSON at all: the caller reports the URL as not being a board (the text is in its details).
    return null;
  }
  if (!isRecord(value)) return null;
  const error = toInt(value['error']);
  if (error === null) return null;
  const message = typeof value['message'] === 'string' ? value['message'] : '';
  const detail = value['errorDetail'];
  return {
    error,
    message,
    errorDetail: typeof detail === 'string' && detail !== '' ? detail : null,
    body: value,
  };
}

/** A document as `dispBoardContentView` / `dispBoardContentList` describe it, decoded. */
export interface BoardDocument {
  readonly documentSrl: number;
  /** Plain text: the board's HTML escaping (`&amp;`, `&quot;`) undone. */
  readonly title: string;
  readonly tags: readonly string[];
  readonly categorySrl: number | null;
  readonly memberSrl: number | null;
  /** The body as the board stores it (after its HTML filter), when the answer includes it. */
  readonly content: string | null;
}

/** The document of a `dispBoardContentView` answer, or null when it names none (missing, deleted). */
export function documentOfView(answer: RhymixAnswer, documentSrl: number): BoardDocument | null {
  if (answer.error !== 0) return null;
  const raw = answer.body['oDocument'] ?? answer.body['document'];
  const doc = toDocument(raw);
  // XE answers a missing document with an empty oDocument rather than an error.
  return doc !== null && doc.documentSrl === documentSrl ? doc : null;
}

/** The documents of a `dispBoardContentList` answer (notices not included). */
export function documentsOfList(answer: RhymixAnswer): BoardDocument[] {
  const list = answer.body['document_list'];
  const items = Array.isArray(list) ? list : isRecord(list) ? Object.values(list) : [];
  const out: BoardDocument[] = [];
  for (const item of items) {
    const doc = toDocument(item);
    if (doc !== null) out.push(doc);
  }
  return out;
}

/** A board category. */
export interface BoardCategory {
  readonly categorySrl: number;
  /** Plain text, decoded. */
  readonly title: string;
}

/**
 * The categories of a `dispBoardCategoryList` answer. XE and Rhymix give `category_list` as an
 * object keyed by category_srl (a PHP associative array); an array is accepted too.
 */
export function categoriesOf(answer: RhymixAnswer): BoardCategory[] {
  const list = answer.body['category_list'];
  const items = Array.isArray(list) ? list : isRecord(list) ? Object.values(list) : [];
  const out: BoardCategory[] = [];
  for (const item of items) {
    if (!isRecord(item)) continue;
    const srl = toInt(item['category_srl']);
    const title = item['title'] ?? item['text'];
    if (srl === null || typeof title !== 'string') continue;
    out.push({ categorySrl: srl, title: decodeHtmlEntities(title).trim() });
  }
  return out;
}

/**
 * Undo the escaping PHP's `htmlspecialchars` applies to titles (`&amp;`, `&lt;`, `&gt;`,
 * `&quot;`, `&#039;`) and numeric references, so titles compare equal to what we sent.
 */
export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|nbsp);/gi, (whole, entity: string) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return fromCodePoint(parseInt(e.slice(2), 16), whole);
    if (e.startsWith('#')) return fromCodePoint(parseInt(e.slice(1), 10), whole);
    return NAMED[e] ?? whole;
  });
}

const NAMED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

function fromCodePoint(code: number, fallback: string): string {
  return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

function toDocument(raw: unknown): BoardDocument | null {
  if (!isRecord(raw)) return null;
  const srl = toInt(raw['document_srl']);
  if (srl === null || srl <= 0) return null;
  const title = typeof raw['title'] === 'string' ? decodeHtmlEntities(raw['title']) : '';
  const category = toInt(raw['category_srl']);
  return {
    documentSrl: srl,
    title,
    tags: toTags(raw['tags']),
    categorySrl: category === null || category === 0 ? null : category,
    memberSrl: toInt(raw['member_srl']),
    content: typeof raw['content'] === 'string' ? raw['content'] : null,
  };
}

/** Tags come as an array (board API) or as the stored comma-separated string. */
function toTags(raw: unknown): string[] {
  const parts = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
  return parts
    .filter((t): t is string => typeof t === 'string')
    .map((t) => decodeHtmlEntities(t).trim())
    .filter((t) => t !== '');
}

/** PHP sends numbers as numbers or numeric strings depending on the database driver. */
function toInt(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
