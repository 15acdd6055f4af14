import { pino } from 'pino';
import type { Logger } from '../../shared/logger.js';
import type { BoardAdapter, PublishedRef } from '../board-adapter.js';
import type { Post } from '../post.js';
import { assertSendable, documentFields, machineTagFor, type Fields } from './document-fields.js';
import {
  categoriesOf,
  documentOfView,
  documentsOfList,
  ERR_CSRF_CHECK_FAILED,
  ERR_UNSAFE_VAR,
  type BoardCategory,
  type BoardDocument,
  type RhymixAnswer,
} from './rhymix-answer.js';
import { RhymixClient } from './rhymix-client.js';
import { RhymixError, type RhymixErrorCode } from './rhymix-error.js';
import type { RhymixSettings } from './rhymix-settings.js';
import { MemorySpacer, type Spacer } from './spacer.js';
import { readWriteForm, type WriteFormProbe } from './write-form.js';

/**
 * Rhymix's spam filter window, by default (each site sets its own; the filter is off unless an
 * admin turns it on). Every write from an IP — new posts, edits and refused tries alike — is
 * logged; a new post finding one in the window is refused, and one finding 3 bans the IP.
 */
export const SPAM_FILTER_WINDOW_MS = 10_000;

export interface RhymixBoardDeps {
  /**
   * Spaces writes apart. Pass a `RedisSpacer` when several processes post from one host; the
   * default is a {@link MemorySpacer} of `settings.minIntervalMs` for this process only.
   */
  readonly spacer?: Spacer;
  readonly logger?: Logger;
  /** Injected by tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  /** The spam filter's window, for telling its refusals apart (tests shrink it). */
  readonly spamWindowMs?: number;
  readonly now?: () => number;
}

/** What {@link RhymixBoard.upsert} did. */
export interface UpsertResult {
  readonly ref: PublishedRef;
  /** True when a new document was made, false when an existing one was edited. */
  readonly created: boolean;
}

interface Attempt {
  readonly answer: RhymixAnswer;
  /** When the attempt was sent. */
  readonly at: number;
  /** Whether it makes a new document (only those are checked by the spam filter). */
  readonly isCreate: boolean;
  /** When this board's previous write (create or edit: the spam filter logs both) was sent. */
  readonly previousWriteAt: number | null;
}

const WRITE_ACT = 'procBoardInsertDocument';

/** Rhymix's `msg_alert_registered_denied_ip` (modules/spamfilter/lang: ko, en, ja). */
// Whole phrases: each language's "posted too soon" text warns of the ban in similar words
// (ja: "…禁止IPに登録されます"), so the ban is told by what only its own text says.
const IP_BANNED = /IP가 차단되었습니다|IP address has been blocked|禁止IPに登録され、/;
/** Rhymix's `msg_alert_limited_by_config`, with its window in seconds (ko, en, ja). */
const SPAM_WINDOW_SECONDS = [
  /(\d+)초 이내에 연속 글 작성은 금지/,
  /post repeatedly within (\d+) seconds/,
  /(\d+)秒以内の書き込みは禁止/,
];

/**
 * Posts to a Rhymix 2.x or XE 1.x board as a member, the way a careful person would
 * (RHYMIX.md): one session with a cookie jar, the CSRF token and Origin/Referer on every POST,
 * writes spaced out by a {@link Spacer}, at most one retry per refusal (after a fresh page and
 * login), and each post findable again by its machine tag so a repeat edits instead of
 * duplicating.
 *
 * Exactly once: {@link upsert} (what the publish worker calls) looks for the post by the
 * `document_srl` recorded last time (`dispBoardContentView`), then by its machine tag
 * (`dispBoardContentList` with `search_option[tag]=1`); it edits what it finds, resending every
 * field (an edit replaces the whole document), and creates only when the tag search answered and
 * found nothing. A crash between creating and recording is thus repaired by the tag search.
 *
 * Failures are {@link RhymixError}s: `BOARD_UNAVAILABLE` (operational) when the site cannot be
 * reached, a permanent code for every refusal. Calls on one instance run one at a time.
 */
export class RhymixBoard implements BoardAdapter {
  readonly name = 'rhymix';
  readonly settings: RhymixSettings;
  private readonly client: RhymixClient;
  private readonly spacer: Spacer;
  private readonly log: Logger;
  private readonly spamWindowMs: number;
  private readonly now: () => number;
  private category: BoardCategory | null = null;
  private loggedIn = false;
  private lastWriteAt: number | null = null;
  private queue: Promise<void> = Promise.resolve();

  private constructor(settings: RhymixSettings, deps: RhymixBoardDeps) {
    this.settings = settings;
    this.log = (deps.logger ?? pino({ level: 'silent' })).child({ target: 'rhymix', mid: settings.mid });
    this.client = new RhymixClient({
      baseUrl: settings.baseUrl,
      mid: settings.mid,
      flavor: settings.flavor,
      timeoutMs: settings.timeoutMs,
      logger: this.log,
      ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    });
    this.spacer = deps.spacer ?? new MemorySpacer(settings.minIntervalMs);
    this.spamWindowMs = deps.spamWindowMs ?? SPAM_FILTER_WINDOW_MS;
    this.now = deps.now ?? Date.now;
  }

  /**
   * Open a session, log in and resolve the configured category: every configuration problem
   * shows at start-up, before any post. Throws `BOARD_CATEGORY_MISSING` (listing the board's
   * categories) when RHYMIX_CATEGORY is not on the board, or is unset on a board with categories.
   */
  static async connect(settings: RhymixSettings, deps: RhymixBoardDeps = {}): Promise<RhymixBoard> {
    const board = new RhymixBoard(settings, deps);
    await board.ensureSession();
    board.category = await board.resolveCategory();
    if (settings.minIntervalMs < board.spamWindowMs) {
      board.log.warn(
        { minIntervalMs: settings.minIntervalMs, spamWindowMs: board.spamWindowMs },
        'RHYMIX_MIN_INTERVAL_MS is below the spam filter window: boards with the filter on will refuse posts and may ban this IP',
      );
    }
    board.log.info(
      { baseUrl: settings.baseUrl, categorySrl: board.category?.categorySrl ?? null },
      'logged in to the board',
    );
    return board;
  }

  /** The category every post goes to; null on a board without categories. */
  get categorySrl(): number | null {
    return this.category?.categorySrl ?? null;
  }

  /** Where a reader opens a document (works with and without the site's short URLs). */
  documentUrl(documentSrl: number): string {
    return `${this.client.referer}&document_srl=${documentSrl}`;
  }

  /** The post with this key on the board (found by its machine tag), or null. */
  find(post: Post): Promise<PublishedRef | null> {
    return this.exclusive(async () => {
      const doc = await this.searchByTag(machineTagFor(post.key));
      return doc === null ? null : this.refOf(doc.documentSrl);
    });
  }

  /** Put the post on the board; edits the post with the same key instead when there is one. */
  async publish(post: Post): Promise<PublishedRef> {
    return (await this.upsert(post, null)).ref;
  }

  /**
   * Replace the document at `ref` with this post (every field resent). Checks first that the
   * board still has it: `POST_NOT_FOUND` when it does not.
   */
  update(ref: PublishedRef, post: Post): Promise<PublishedRef> {
    return this.exclusive(async () => {
      // Checked before any request: unsafe or oversized content is never sent.
      this.fieldsFor(post, null);
      const srl = documentSrlOf(ref);
      const doc = srl === null || !this.isOurs(ref, srl) ? null : await this.view(srl);
      if (srl === null || doc === null) {
        throw new RhymixError('POST_NOT_FOUND', `the board ${this.settings.mid} has no document ${ref.id}`, {
          details: { documentSrl: ref.id },
        });
      }
      return this.edit(srl, post);
    });
  }

  /**
   * Create or edit the post of `post.key`, exactly once: the document at `previous` (what was
   * recorded for this post last time) when the board still has it, else the one carrying the
   * post's machine tag, else a new one. What the publish worker calls; `isw-ko reprocess` thus
   * edits in place.
   */
  upsert(post: Post, previous: PublishedRef | null): Promise<UpsertResult> {
    return this.exclusive(async () => {
      // Checked before any request: unsafe or oversized content is never sent.
      const fields = this.fieldsFor(post, null);
      let target: number | null = null;
      if (previous !== null) {
        const srl = documentSrlOf(previous);
        if (srl === null)
          this.log.warn({ ref: previous.id }, 'recorded ref is not a document_srl; ignoring it');
        else if (!this.isOurs(previous, srl))
          // Rhymix shows a document of any board under any mid: editing it would change a post on
          // the board this one replaced (RHYMIX_MID or RHYMIX_URL changed since).
          this.log.warn(
            { documentSrl: srl, recordedUrl: previous.url, key: post.key },
            'recorded document is on another board; searching this board by tag',
          );
        else if ((await this.view(srl)) !== null) target = srl;
        else
          this.log.warn({ documentSrl: srl, key: post.key }, 'recorded document is gone; searching by tag');
      }
      target ??= (await this.searchByTag(machineTagFor(post.key)))?.documentSrl ?? null;
      if (target !== null) return { ref: await this.edit(target, post), created: false };
      return { ref: await this.create(post, fields), created: true };
    });
  }

  /**
   * What the board's write page shows this member (a form, a captcha): how `isw-ko doctor` and
   * the refusal diagnosis tell "no permission" and "captcha" apart without reading messages.
   */
  probeWriteForm(documentSrl: number | null = null): Promise<WriteFormProbe> {
    return this.exclusive(async () => {
      await this.ensureSession();
      return this.probe(documentSrl);
    });
  }

  // ---- documents -------------------------------------------------------------------------

  private async create(post: Post, fields: Fields): Promise<PublishedRef> {
    const answer = await this.write(fields, null);
    const srl = toSrl(answer.body['document_srl']);
    if (srl !== null) {
      this.log.info({ documentSrl: srl, key: post.key }, 'document created');
      await this.checkFiled(answer, srl);
      return this.refOf(srl);
    }
    // The board said "registered" without the number: the tag finds it.
    const doc = await this.searchByTag(machineTagFor(post.key));
    if (doc === null) {
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        'the board accepted the post but gave no document_srl, and its tag search does not find it',
        {
          details: { act: WRITE_ACT, key: post.key },
        },
      );
    }
    this.log.info({ documentSrl: doc.documentSrl, key: post.key }, 'document created');
    return this.refOf(doc.documentSrl);
  }

  private async edit(documentSrl: number, post: Post): Promise<PublishedRef> {
    const answer = await this.write(this.fieldsFor(post, documentSrl), documentSrl);
    this.log.info({ documentSrl, key: post.key }, 'document edited');
    await this.checkFiled(answer, documentSrl);
    return this.refOf(documentSrl);
  }

  private fieldsFor(post: Post, documentSrl: number | null): Fields {
    const fields = documentFields({
      post,
      settings: this.settings,
      categorySrl: this.categorySrl,
      documentSrl,
    });
    assertSendable(fields, this.settings);
    return fields;
  }

  /** The document, or null when the board does not show it (deleted, moved, never ours). */
  private async view(documentSrl: number): Promise<BoardDocument | null> {
    const fields: Fields = [
      ['mid', this.settings.mid],
      ['document_srl', String(documentSrl)],
    ];
    const answer = await this.read('dispBoardContentView', fields);
    return documentOfView(answer, documentSrl);
  }

  /**
   * Our document carrying `tag`, or null when the search answered and none does. Throws when
   * the search fails or is ignored: creating without a trustworthy "not found" could duplicate.
   */
  private async searchByTag(tag: string): Promise<BoardDocument | null> {
    const fields: Fields = [
      ['mid', this.settings.mid],
      ['search_target', 'tag'],
      ['search_keyword', tag],
      // Without search_option[tag]=1 the board silently ignores the search (RHYMIX.md).
      ['search_option[tag]', '1'],
    ];
    const answer = await this.read('dispBoardContentList', fields);
    if (answer.error !== 0)
      throw this.refusal('BOARD_REJECTED', 'dispBoardContentList', answer, 'the tag search failed');
    const docs = documentsOfList(answer);
    const mine = docs.filter((d) => d.tags.some((t) => t.toLowerCase() === tag));
    if (mine.length === 0 && docs.length > 0) {
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        `the board answered the search for tag "${tag}" with ${docs.length} document(s) that do not carry it: it ignored the search, so "not found" cannot be trusted`,
        {
          details: { act: 'dispBoardContentList', tag, returned: docs.map((d) => d.documentSrl) },
          hint: 'the board must support tag search (search_target=tag); check its skin and RHYMIX_FLAVOR',
        },
      );
    }
    mine.sort((a, b) => a.documentSrl - b.documentSrl);
    const [first, ...others] = mine;
    if (others.length > 0) {
      this.log.warn(
        { tag, kept: first?.documentSrl, duplicates: others.map((d) => d.documentSrl) },
        'several documents carry this post tag; editing the oldest, delete the others on the board',
      );
    }
    return first ?? null;
  }

  private refOf(documentSrl: number): PublishedRef {
    return { id: String(documentSrl), url: this.documentUrl(documentSrl) };
  }

  /**
   * Rhymix takes a category_srl it does not have (deleted since start-up, or one the member may not
   * use) without a word: it files the document under no category and only its answer's
   * `category_srl` says so. The document stands (a retry edits it, never duplicates it), but the
   * job fails so an admin sees it and fixes RHYMIX_CATEGORY or the board.
   */
  private async checkFiled(answer: RhymixAnswer, documentSrl: number): Promise<void> {
    const wanted = this.category;
    if (wanted === null || !('category_srl' in answer.body)) return; // XE 1.x may not say
    const got = toSrl(answer.body['category_srl']);
    if (got === wanted.categorySrl) return;
    const gone = await this.categoryGone().catch((err: unknown) => {
      this.log.debug({ err }, 'could not re-check the category');
      return false;
    });
    throw new RhymixError(
      'BOARD_CATEGORY_MISSING',
      `the board filed document ${documentSrl} under ${got === null ? 'no category' : `category ${got}`} instead of "${wanted.title}": ` +
        (gone
          ? 'that category is no longer on the board'
          : 'the category is there, so this member may not be allowed to use it'),
      { details: { act: WRITE_ACT, documentSrl, categorySrl: wanted.categorySrl, filedUnder: got ?? 0 } },
    );
  }

  /** Whether a recorded ref was made by this board (same site and mid), not a board it replaced. */
  private isOurs(ref: PublishedRef, documentSrl: number): boolean {
    return ref.url === this.documentUrl(documentSrl);
  }

  // ---- session ---------------------------------------------------------------------------

  private async ensureSession(): Promise<void> {
    if (this.loggedIn) return;
    await this.openSession();
    await this.logIn();
  }

  /** Start over: the session may have been invalidated (password change, member limited, GC). */
  private async reestablish(): Promise<void> {
    this.loggedIn = false;
    await this.ensureSession();
  }

  /** Load the board's page: cookies and the CSRF token come with it. */
  private async openSession(): Promise<void> {
    const page = await this.client.getPage({ mid: this.settings.mid });
    if (page.status >= 400) {
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        `${page.url} answered HTTP ${page.status}: no board "${this.settings.mid}" there`,
        {
          details: { httpStatus: page.status },
        },
      );
    }
    if (this.settings.flavor === 'rhymix' && this.client.csrfToken === null) {
      throw new RhymixError(
        'BOARD_MISCONFIGURED',
        `${page.url} has no <meta name="csrf-token">: not a Rhymix site (XE 1.x has none)`,
        { hint: 'for an XpressEngine 1.x site set RHYMIX_FLAVOR=xe; otherwise check RHYMIX_URL' },
      );
    }
  }

  private async logIn(): Promise<void> {
    const fields: Fields = [
      ['user_id', this.settings.userId],
      ['password', this.settings.password],
    ];
    let answer = await this.client.post('procMemberLogin', fields);
    if (answer.error !== 0) {
      this.log.warn(
        { boardError: answer.error, errorDetail: answer.errorDetail },
        'login refused; trying once more with a fresh page',
      );
      await this.openSession();
      answer = await this.client.post('procMemberLogin', fields);
    }
    if (answer.error !== 0) {
      const code: RhymixErrorCode =
        answer.errorDetail === ERR_CSRF_CHECK_FAILED ? 'BOARD_CSRF_FAILED' : 'BOARD_AUTH_FAILED';
      throw this.refusal(
        code,
        'procMemberLogin',
        answer,
        `the board refused the login of "${this.settings.userId}"`,
      );
    }
    this.loggedIn = true;
    // Rhymix regenerates PHPSESSID on the first page after login (RHYMIX.md): take that page now,
    // so the rotation happens on a GET we control rather than between a write and its answer.
    await this.client.getPage({ mid: this.settings.mid });
  }

  // ---- requests with recovery -------------------------------------------------------------

  /** A read: on a refusal, fresh page and login, then once more; the caller reads the answer. */
  private async read(act: string, fields: Fields): Promise<RhymixAnswer> {
    await this.ensureSession();
    const first = await this.client.post(act, fields);
    if (first.error === 0 || first.errorDetail === ERR_UNSAFE_VAR) return first;
    this.log.warn(
      { act, boardError: first.error, errorDetail: first.errorDetail },
      'board refused a read; logging in again',
    );
    await this.reestablish();
    return this.client.post(act, fields);
  }

  /**
   * A create (`documentSrl` null) or an edit, at most twice. After a refusal the session is
   * re-established (it may have expired, or the CSRF token gone with it) and the write page is
   * checked: a captcha or a missing form is final, with no second try. Otherwise one retry, in
   * its turn; a second refusal is diagnosed and thrown. Never a third try: the spam filter bans
   * the IP after 3.
   */
  private async write(fields: Fields, documentSrl: number | null): Promise<RhymixAnswer> {
    await this.ensureSession();
    const first = await this.attempt(fields, documentSrl === null);
    if (first.answer.error === 0) return first.answer;
    // Never retry what the spam filter refused: the refused try is logged too, and the next one
    // would bring the IP closer to a ban.
    const spam = this.spamRefusal(first, false);
    if (spam !== null) throw spam;
    if (first.answer.errorDetail === ERR_UNSAFE_VAR) {
      throw this.refusal(
        'BOARD_UNSAFE_CONTENT',
        WRITE_ACT,
        first.answer,
        'the board refused the post as unsafe (ERR_UNSAFE_VAR)',
      );
    }
    this.log.warn(
      { act: WRITE_ACT, documentSrl, boardError: first.answer.error, errorDetail: first.answer.errorDetail },
      'board refused the post; logging in again before the one retry',
    );
    await this.reestablish();
    const form = await this.probe(documentSrl);
    if (form.captcha) {
      throw this.refusal(
        'BOARD_CAPTCHA_REQUIRED',
        WRITE_ACT,
        first.answer,
        'the board asks this member for a captcha',
      );
    }
    if (!form.hasForm) {
      throw this.refusal(
        'BOARD_PERMISSION_DENIED',
        WRITE_ACT,
        first.answer,
        documentSrl === null
          ? `member "${this.settings.userId}" may not write on board ${this.settings.mid}`
          : `member "${this.settings.userId}" may not edit document ${documentSrl}`,
      );
    }
    const second = await this.attempt(fields, documentSrl === null);
    if (second.answer.error === 0) {
      this.log.info({ act: WRITE_ACT, documentSrl }, 'retry after a fresh login succeeded');
      return second.answer;
    }
    throw await this.diagnose(first, second);
  }

  private async attempt(fields: Fields, isCreate: boolean): Promise<Attempt> {
    await this.spacer.waitTurn();
    const at = this.now();
    const previousWriteAt = this.lastWriteAt;
    this.lastWriteAt = at;
    const answer = await this.client.post(WRITE_ACT, fields);
    return { answer, at, isCreate, previousWriteAt };
  }

  /**
   * A refusal by the spam filter, or null. Its answers carry no error code, only the site's
   * language string, so this is the one place a board's message is read (Rhymix's own texts in
   * Korean, English and Japanese). With `byTiming` (after the retry, when nothing else explains a
   * refusal), a new post sent within the default window of the previous write is taken for one.
   */
  private spamRefusal(attempt: Attempt, byTiming: boolean): RhymixError | null {
    const answer = attempt.answer;
    // "Too soon" first: its text mentions the ban it warns of.
    const seconds = SPAM_WINDOW_SECONDS.map((re) => re.exec(answer.message)?.[1]).find(
      (v) => v !== undefined,
    );
    if (seconds === undefined && IP_BANNED.test(answer.message)) {
      return this.refusal(
        'BOARD_IP_BANNED',
        WRITE_ACT,
        answer,
        "the board's spam filter has banned this host's IP",
      );
    }
    if (seconds !== undefined) {
      return this.refusal(
        'BOARD_SPAM_LIMITED',
        WRITE_ACT,
        answer,
        `the board's spam filter refused a new post within ${seconds} s of this IP's previous write (posts and edits both count)`,
      );
    }
    const gap = attempt.previousWriteAt === null ? null : attempt.at - attempt.previousWriteAt;
    if (byTiming && attempt.isCreate && gap !== null && gap < this.spamWindowMs) {
      return this.refusal(
        'BOARD_SPAM_LIMITED',
        WRITE_ACT,
        answer,
        `the board refused a new post sent ${gap} ms after the previous write (a spam filter allows one per ${this.spamWindowMs} ms by default)`,
      );
    }
    return null;
  }

  /** Why a write was refused twice, from what the protocol shows (the message only for the spam filter). */
  private async diagnose(first: Attempt, second: Attempt): Promise<RhymixError> {
    const answer = second.answer;
    if (answer.errorDetail === ERR_CSRF_CHECK_FAILED) {
      return this.refusal(
        'BOARD_CSRF_FAILED',
        WRITE_ACT,
        answer,
        'the board rejected our CSRF token and Origin twice, with a fresh token',
      );
    }
    if (answer.errorDetail === ERR_UNSAFE_VAR) {
      return this.refusal(
        'BOARD_UNSAFE_CONTENT',
        WRITE_ACT,
        answer,
        'the board refused the post as unsafe (ERR_UNSAFE_VAR)',
      );
    }
    const spam = this.spamRefusal(second, false);
    if (spam !== null) return spam;
    if (this.category !== null) {
      const missing = await this.categoryGone().catch((err: unknown) => {
        this.log.debug({ err }, 'could not re-check the category while diagnosing a refusal');
        return false;
      });
      if (missing) {
        return this.refusal(
          'BOARD_CATEGORY_MISSING',
          WRITE_ACT,
          answer,
          `category "${this.category.title}" is no longer on the board`,
        );
      }
    }
    // Last, when nothing else explains it: only the first try's distance to the previous write
    // says anything (the retry is always close to the first try, which the filter may have logged).
    const byTiming = this.spamRefusal(first, true);
    if (byTiming !== null) return byTiming;
    return this.refusal(
      'BOARD_REJECTED',
      WRITE_ACT,
      answer,
      'the board refused the post twice, after a fresh login',
    );
  }

  private async probe(documentSrl: number | null): Promise<WriteFormProbe> {
    const query: Record<string, string> = { mid: this.settings.mid, act: 'dispBoardWrite' };
    if (documentSrl !== null) query['document_srl'] = String(documentSrl);
    const page = await this.client.getPage(query);
    return readWriteForm(page.html);
  }

  // ---- categories ------------------------------------------------------------------------

  private async listCategories(): Promise<BoardCategory[]> {
    const answer = await this.read('dispBoardCategoryList', [['mid', this.settings.mid]]);
    if (answer.error !== 0) {
      throw this.refusal(
        'BOARD_MISCONFIGURED',
        'dispBoardCategoryList',
        answer,
        `the board ${this.settings.mid} did not list its categories`,
      );
    }
    return categoriesOf(answer);
  }

  private async resolveCategory(): Promise<BoardCategory | null> {
    const categories = await this.listCategories();
    const wanted = this.settings.category;
    const names = categories.map((c) => `"${c.title}"`).join(', ');
    if (wanted === null) {
      if (categories.length === 0) return null;
      throw new RhymixError(
        'BOARD_CATEGORY_MISSING',
        `board ${this.settings.mid} has categories and posts need one: set RHYMIX_CATEGORY to one of ${names}`,
        { details: { categories: categories.map((c) => c.title) } },
      );
    }
    const key = fold(wanted);
    const found =
      categories.find((c) => fold(c.title) === key) ??
      (/^\d+$/.test(wanted.trim())
        ? categories.find((c) => c.categorySrl === Number(wanted.trim()))
        : undefined);
    if (found !== undefined) return found;
    throw new RhymixError(
      'BOARD_CATEGORY_MISSING',
      categories.length === 0
        ? `board ${this.settings.mid} has no categories, but RHYMIX_CATEGORY is "${wanted}": unset it`
        : `board ${this.settings.mid} has no category "${wanted}"; its categories are ${names}`,
      {
        details: { wanted, categories: categories.map((c) => c.title) },
        // The code's usual hint (pick one of the board's categories) cannot apply to a board with none.
        ...(categories.length === 0
          ? { hint: `unset RHYMIX_CATEGORY, or add a category "${wanted}" to board ${this.settings.mid}` }
          : {}),
      },
    );
  }

  private async categoryGone(): Promise<boolean> {
    const srl = this.categorySrl;
    if (srl === null) return false;
    const categories = await this.listCategories();
    return !categories.some((c) => c.categorySrl === srl);
  }

  // ---- helpers ---------------------------------------------------------------------------

  private refusal(code: RhymixErrorCode, act: string, answer: RhymixAnswer, message: string): RhymixError {
    const quoted = answer.message === '' ? '' : ` (the board said: "${answer.message}")`;
    return new RhymixError(code, `${message}${quoted}`, {
      details: {
        act,
        boardError: answer.error,
        boardMessage: answer.message,
        ...(answer.errorDetail === null ? {} : { errorDetail: answer.errorDetail }),
      },
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    // The caller gets `run` with its error; the queue only needs to know it has settled.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

/** The document_srl of a ref this board made, or null for anything else. */
function documentSrlOf(ref: PublishedRef): number | null {
  return /^\d+$/.test(ref.id) ? Number(ref.id) : null;
}

function toSrl(value: unknown): number | null {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return null;
}

/** Category names compare ignoring case, Unicode form and runs of spaces. */
function fold(name: string): string {
  return name.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}
