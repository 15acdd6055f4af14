import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CONFIG_ERRNOS, errnoOf } from '../shared/fs-errors.js';
import type { Logger } from '../shared/logger.js';
import { writeFileAtomic } from './atomic-write.js';
import type { BoardAdapter, PublishedRef } from './board-adapter.js';
import { renderBoardIndex, renderBoardPage } from './board-pages.js';
import type { Post } from './post.js';
import { PublishError } from './publish-error.js';
import { assertSafePostHtml } from './safety.js';
import { loadPostTemplates, type PostTemplates } from './templates.js';

export interface FileBoardOptions {
  /** Compiled templates; loaded from `templatesDir` on first use when absent. */
  readonly templates?: PostTemplates;
  readonly templatesDir?: string;
  /** Heading of index.html. */
  readonly boardTitle?: string;
  readonly logger?: Logger;
  /** The clock, for `createdAt`/`updatedAt` in the JSON records (tests pin it). */
  readonly now?: () => Date;
}

/** A post as the file board keeps it in `posts/<id>.json`. */
const storedPostSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  key: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** 1 when first published, +1 on every update. */
  revision: z.number().int().positive(),
  post: z.object({
    key: z.string(),
    reportId: z.string(),
    title: z.string(),
    html: z.string(),
    text: z.string(),
    sourceUrl: z.string().nullable(),
    tags: z.array(z.string()),
    publishedAt: z.string(),
  }),
});
export type StoredPost = z.infer<typeof storedPostSchema>;

/** One line of `index.json`: what index.html shows of a post. */
const manifestSchema = z.array(
  z.object({ id: z.string(), title: z.string(), publishedAt: z.string(), tags: z.array(z.string()) }),
);
type ManifestEntry = z.infer<typeof manifestSchema>[number];

function manifestEntry(r: StoredPost): ManifestEntry {
  return { id: r.id, title: r.post.title, publishedAt: r.post.publishedAt, tags: [...r.post.tags] };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null; // reported by the schema check as a damaged index
  }
}

// File names we create ourselves: lower case so two keys cannot collide on a case-insensitive disk.
const PLAIN_ID = /^[a-z0-9][a-z0-9_-]{0,99}$/;
// A rebuild takes milliseconds; an index lock this old was left by a process killed while holding it.
const INDEX_LOCK_STALE_MS = 10_000;

/**
 * The embedded default board: posts as files an operator can open in a browser.
 *
 * ```
 * <dir>/index.html         all posts, newest first by publishedAt
 * <dir>/posts/<id>.html    one standalone page per post (UTF-8, styled in the page)
 * <dir>/posts/<id>.json    the post and its bookkeeping: the record `find` reads
 * ```
 *
 * The id is derived from `post.key` alone, so publishing the same post again (after a crash between
 * writing it and recording the ref, say) overwrites it instead of adding a second one, and a new
 * FileBoard on the same directory finds it. Every file is written atomically (temp file + rename);
 * the JSON record is written last, so a post is only "found" once its page is complete. index.html
 * is rebuilt from the JSON records on every change, so a crash between the two is repaired by the
 * next publish. Calls on one instance run one at a time; processes sharing one directory (`isw-ko
 * run` and `isw-ko worker`s on one data volume) take turns through `index.lock`, so no rebuild
 * drops a post another process added meanwhile.
 */
export class FileBoard implements BoardAdapter {
  readonly name = 'file';
  readonly dir: string;
  private readonly postsDir: string;
  private readonly options: FileBoardOptions;
  private templates: Promise<PostTemplates> | undefined;
  /** Per post id: the last write's promise, so writes of one post never interleave. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Records waiting for the next index rewrite, and that rewrite (one at a time, batched). */
  private readonly pendingIndex = new Map<string, StoredPost>();
  private nextIndexFlush: Promise<void> | null = null;
  private indexChain: Promise<void> = Promise.resolve();

  constructor(dir: string, options: FileBoardOptions = {}) {
    this.dir = path.resolve(dir);
    this.postsDir = path.join(this.dir, 'posts');
    this.options = options;
    if (options.templates !== undefined) this.templates = Promise.resolve(options.templates);
  }

  /**
   * The board id of a post key: the key itself when it is a plain lower-case file name (reports ids
   * are), else a slug of it plus 12 hex digits of its sha256, so any key maps to one safe file name.
   */
  static idFor(key: string): string {
    if (PLAIN_ID.test(key)) return key;
    const slug = key
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[-_]+|-+$/g, '')
      .slice(0, 60);
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
    return `${slug === '' ? 'post' : slug}-${hash}`;
  }

  /** The index page as a file:// URL, for the operator. */
  get indexUrl(): string {
    return pathToFileURL(path.join(this.dir, 'index.html')).href;
  }

  async find(post: Post): Promise<PublishedRef | null> {
    const record = await this.read(FileBoard.idFor(post.key));
    return record === null || record.key !== post.key ? null : this.refOf(record.id);
  }

  async publish(post: Post): Promise<PublishedRef> {
    return this.exclusive(FileBoard.idFor(post.key), async () => {
      assertSafePostHtml(post.html);
      const id = FileBoard.idFor(post.key);
      const existing = await this.read(id);
      if (existing !== null && existing.key !== post.key) {
        throw new PublishError('BOARD_CORRUPT', `the board file for ${post.key} belongs to ${existing.key}`, {
          details: { id, file: this.jsonPath(id) },
        });
      }
      await this.write(id, post, existing);
      return this.refOf(id);
    });
  }

  async update(ref: PublishedRef, post: Post): Promise<PublishedRef> {
    return this.exclusive(ref.id, async () => {
      assertSafePostHtml(post.html);
      if (!PLAIN_ID.test(ref.id)) {
        // Ids come from idFor(): anything else (a path, "..") did not come from this board.
        throw new PublishError('BOARD_REJECTED', `"${ref.id}" is not a post id of the file board`, {
          details: { id: ref.id },
        });
      }
      const existing = await this.read(ref.id);
      if (existing === null) {
        throw new PublishError('POST_NOT_FOUND', `the file board has no post ${ref.id}`, {
          details: { id: ref.id, dir: this.dir },
        });
      }
      if (existing.key !== post.key) {
        throw new PublishError(
          'BOARD_REJECTED',
          `post ${ref.id} belongs to ${existing.key}, not ${post.key}`,
          {
            details: { id: ref.id },
          },
        );
      }
      await this.write(ref.id, post, existing);
      return this.refOf(ref.id);
    });
  }

  /** Every stored post, unordered; unreadable records are logged and left out. */
  async list(): Promise<StoredPost[]> {
    let names: string[];
    try {
      names = await readdir(this.postsDir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw fsError(err, 'list the posts in', this.postsDir);
    }
    const records: StoredPost[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const record = await this.read(name.slice(0, -'.json'.length));
        if (record !== null) records.push(record);
      } catch (err) {
        // One damaged record must not take the whole board's index down; it is reported, not hidden.
        this.options.logger?.warn({ err, file: name }, 'skipping an unreadable post record in the index');
      }
    }
    return records;
  }

  private async write(id: string, post: Post, existing: StoredPost | null): Promise<void> {
    const templates = await this.loadTemplates();
    const now = (this.options.now?.() ?? new Date()).toISOString();
    const record: StoredPost = {
      version: 1,
      id,
      key: post.key,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      revision: (existing?.revision ?? 0) + 1,
      post: { ...post, tags: [...post.tags] },
    };
    const page = renderBoardPage(post, templates, '../index.html');
    try {
      await mkdir(this.postsDir, { recursive: true });
      await writeFileAtomic(this.htmlPath(id), page);
      // The record last: `find` sees the post only when its page is complete.
      await writeFileAtomic(this.jsonPath(id), `${JSON.stringify(record, null, 2)}\n`);
    } catch (err) {
      throw fsError(err, 'write', this.htmlPath(id));
    }
    await this.updateIndex(templates, record);
    this.options.logger?.info(
      { id, key: post.key, revision: record.revision, file: this.htmlPath(id) },
      existing === null ? 'post published on the file board' : 'post updated on the file board',
    );
  }

  /**
   * Rewrite index.html with this record's entry in it. The entries are kept in `index.json` (title,
   * date and tags only) and updated in place, so a publish costs the same with 10 posts or 10,000;
   * reading every post record back (the O(n²) way) is left for a missing or damaged index.json.
   */
  private async rebuildIndex(templates: PostTemplates, records: readonly StoredPost[]): Promise<void> {
    const manifest = path.join(this.dir, 'index.json');
    const fresh = new Map(records.map((r) => [r.id, manifestEntry(r)]));
    const known = await this.readManifest(manifest);
    // Without a usable index.json every record is read back once (the ones just written among them).
    const entries =
      known === null
        ? (await this.list()).map(manifestEntry)
        : [...known.filter((e) => !fresh.has(e.id)), ...fresh.values()];
    const html = renderBoardIndex(
      entries.map((e) => ({
        href: `posts/${encodeURIComponent(e.id)}.html`,
        title: e.title,
        publishedAt: e.publishedAt,
        tags: e.tags,
      })),
      templates,
      this.options.boardTitle,
    );
    const file = path.join(this.dir, 'index.html');
    try {
      // Derived files: rebuilt from the post records when damaged, so no fsync on the hot path.
      await writeFileAtomic(manifest, `${JSON.stringify(entries)}\n`, { durable: false });
      await writeFileAtomic(file, html, { durable: false });
    } catch (err) {
      throw fsError(err, 'write', file);
    }
  }

  private async readManifest(file: string): Promise<ManifestEntry[] | null> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      throw fsError(err, 'read', file);
    }
    const parsed = manifestSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      this.options.logger?.warn({ file }, 'index.json is damaged; rebuilding it from the post records');
      return null;
    }
    return parsed.data;
  }

  private async read(id: string): Promise<StoredPost | null> {
    const file = this.jsonPath(id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      throw fsError(err, 'read', file);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new PublishError('BOARD_CORRUPT', `the post record ${file} is not JSON`, {
        cause: err,
        details: { file },
      });
    }
    const result = storedPostSchema.safeParse(parsed);
    if (!result.success) {
      throw new PublishError('BOARD_CORRUPT', `the post record ${file} is not a file-board record`, {
        cause: result.error,
        details: { file },
      });
    }
    return result.data;
  }

  private loadTemplates(): Promise<PostTemplates> {
    this.templates ??= loadPostTemplates(this.options.templatesDir);
    return this.templates;
  }

  /** Run `task` after every earlier call on this board has settled, so index rebuilds never interleave. */
  private exclusive<T>(id: string, task: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(id) ?? Promise.resolve()).then(task);
    // The caller gets `run` with its error; the chain only needs to know it has settled.
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(id, settled);
    void settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id);
    });
    return run;
  }

  /**
   * Put a record into index.html. Rewrites run one at a time; records that arrive while one runs
   * wait for the next, which takes them all at once — a burst of posts costs a few rewrites, not
   * one each. Resolves when the rewrite holding this record is done.
   */
  private updateIndex(templates: PostTemplates, record: StoredPost): Promise<void> {
    this.pendingIndex.set(record.id, record);
    if (this.nextIndexFlush === null) {
      const flush = this.indexChain.then(async () => {
        this.nextIndexFlush = null; // records from now on go into the following rewrite
        const batch = [...this.pendingIndex.values()];
        this.pendingIndex.clear();
        await this.withIndexLock(() => this.rebuildIndex(templates, batch));
      });
      this.nextIndexFlush = flush;
      this.indexChain = flush.then(
        () => undefined,
        () => undefined,
      );
    }
    return this.nextIndexFlush;
  }

  /**
   * Run `task` holding `<dir>/index.lock`. A rebuild reads index.json and writes it back with its
   * own records: two processes doing that at once each drop the other's new post from the index
   * (lost update; the soak run found posts missing from index.html with three processes). Creating
   * the file with O_EXCL is atomic, across processes on one machine and on NFSv3+; a lock older
   * than {@link INDEX_LOCK_STALE_MS} is what a process killed mid-rebuild left, and is removed.
   */
  private async withIndexLock<T>(task: () => Promise<T>): Promise<T> {
    const lock = path.join(this.dir, 'index.lock');
    for (;;) {
      try {
        await (await open(lock, 'wx')).close();
        break;
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw fsError(err, 'create', lock);
      }
      let heldSinceMs: number | null = null;
      try {
        heldSinceMs = (await stat(lock)).mtimeMs;
      } catch (err) {
        // Released between our attempt and the stat: try again at once.
        if (errnoOf(err) !== 'ENOENT') throw fsError(err, 'stat', lock);
      }
      if (heldSinceMs !== null && Date.now() - heldSinceMs > INDEX_LOCK_STALE_MS) {
        this.options.logger?.warn({ file: lock }, 'removing a stale index lock left by a stopped process');
        await rm(lock, { force: true });
      } else if (heldSinceMs !== null) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    }
    try {
      return await task();
    } finally {
      await rm(lock, { force: true });
    }
  }

  private refOf(id: string): PublishedRef {
    return { id, url: pathToFileURL(this.htmlPath(id)).href };
  }

  private htmlPath(id: string): string {
    return path.join(this.postsDir, `${id}.html`);
  }

  private jsonPath(id: string): string {
    return path.join(this.postsDir, `${id}.json`);
  }
}

function fsError(err: unknown, action: string, file: string): PublishError {
  if (err instanceof PublishError) return err;
  const code = errnoOf(err);
  return new PublishError(
    code !== undefined && CONFIG_ERRNOS.has(code) ? 'BOARD_MISCONFIGURED' : 'BOARD_UNAVAILABLE',
    `cannot ${action} ${file}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err, details: { file, errno: code ?? null } },
  );
}
