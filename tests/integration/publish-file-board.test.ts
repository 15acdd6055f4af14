// FileBoard on a real temporary directory: publish → find → update, one file per post, index newest first, restarts, atomic files.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { load } from 'cheerio';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FileBoard,
  loadPostTemplates,
  PublishError,
  type Post,
  type PostTemplates,
  type StoredPost,
} from '../../src/publish/index.js';

const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));
let templates: PostTemplates;
let dir: string;

function post(n: number, publishedAt: string, extra: Partial<Post> = {}): Post {
  return {
    key: `isw-ko-m${n}`,
    reportId: `m${n}`,
    title: `[ISW] 러시아의 공세 캠페인 평가, 글 ${n}`,
    html: `<h2>[요약]</h2>\n<p>본문 ${n}</p>\n`,
    text: `[요약]\n\n본문 ${n}\n`,
    sourceUrl: null,
    tags: ['전황'],
    publishedAt,
    ...extra,
  };
}

function board(options: { now?: () => Date } = {}): FileBoard {
  return new FileBoard(dir, { templates, ...options });
}

async function indexTitles(): Promise<string[]> {
  const $ = load(await readFile(path.join(dir, 'index.html'), 'utf8'));
  return $('li a')
    .toArray()
    .map((a) => $(a).text());
}

beforeAll(async () => {
  templates = await loadPostTemplates(TEMPLATES_DIR);
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'isw-ko-board-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileBoard', () => {
  it('publish → find → update keeps one post, rewritten in place', async () => {
    const b = board();
    const first = post(1, '2025-03-02T19:45:00-05:00');
    expect(await b.find(first)).toBeNull();

    const ref = await b.publish(first);
    expect(ref.id).toBe('isw-ko-m1');
    expect(ref.url).toBe(pathToFileURL(path.join(dir, 'posts', 'isw-ko-m1.html')).href);
    expect(await b.find(first)).toEqual(ref);

    const edited = { ...first, html: '<h2>[요약]</h2>\n<p>고친 본문</p>\n' };
    expect(await b.update(ref, edited)).toEqual(ref);
    expect((await readdir(path.join(dir, 'posts'))).sort()).toEqual(['isw-ko-m1.html', 'isw-ko-m1.json']);

    const page = await readFile(path.join(dir, 'posts', 'isw-ko-m1.html'), 'utf8');
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).toContain('<p>고친 본문</p>');
    expect(page).not.toContain('본문 1');
    const record = JSON.parse(
      await readFile(path.join(dir, 'posts', 'isw-ko-m1.json'), 'utf8'),
    ) as StoredPost;
    expect(record).toMatchObject({ id: 'isw-ko-m1', key: 'isw-ko-m1', revision: 2, post: edited });
    expect(await indexTitles()).toEqual([first.title]);
  });

  it('publishing the same post again (a retry after a crash) overwrites it instead of duplicating it', async () => {
    let clock = Date.parse('2025-03-03T00:00:00Z');
    const b = board({ now: () => new Date(clock) });
    const p = post(1, '2025-03-02T19:45:00-05:00');
    const a = await b.publish(p);
    clock += 60_000;
    const again = await b.publish({ ...p, title: `${p.title} (2)` });
    expect(again).toEqual(a);
    expect(await readdir(path.join(dir, 'posts'))).toHaveLength(2);
    expect(await indexTitles()).toEqual([`${p.title} (2)`]);
    const record = JSON.parse(await readFile(path.join(dir, 'posts', `${a.id}.json`), 'utf8')) as StoredPost;
    expect(record.createdAt).toBe('2025-03-03T00:00:00.000Z');
    expect(record.updatedAt).toBe('2025-03-03T00:01:00.000Z');
  });

  it('lists all posts newest first by publishedAt, whatever the order of publishing and the offsets', async () => {
    const b = board();
    await b.publish(post(1, '2025-03-02T19:45:00-05:00')); // 2025-03-03 00:45Z
    await b.publish(post(2, '2025-05-14T17:50:00-04:00'));
    await b.publish(post(3, '2024-01-26T21:57:33-05:00'));
    await b.publish(post(4, '2025-03-03T09:00:00+09:00')); // 2025-03-03 00:00Z: just before post 1
    expect(await indexTitles()).toEqual([
      post(2, '').title,
      post(1, '').title,
      post(4, '').title,
      post(3, '').title,
    ]);
    const $ = load(await readFile(path.join(dir, 'index.html'), 'utf8'));
    expect($('meta[charset]').attr('charset')).toBe('utf-8');
    expect($('li a').first().attr('href')).toBe('posts/isw-ko-m2.html');
  });

  it('a second FileBoard on the same directory finds and updates the existing post', async () => {
    const p = post(7, '2025-03-02T19:45:00-05:00');
    const ref = await board().publish(p);
    const restarted = new FileBoard(dir, { templatesDir: TEMPLATES_DIR });
    expect(await restarted.find(p)).toEqual(ref);
    expect(await restarted.publish(p)).toEqual(ref);
    await restarted.update(ref, { ...p, title: '[ISW] 새 제목' });
    expect(await readdir(path.join(dir, 'posts'))).toHaveLength(2);
    expect(await indexTitles()).toEqual(['[ISW] 새 제목']);
  });

  it('maps any key to one safe file name', async () => {
    expect(FileBoard.idFor('isw-ko-m0123abc')).toBe('isw-ko-m0123abc');
    const odd = FileBoard.idFor('../../etc/passwd:Key With Spaces');
    expect(odd).toMatch(/^[a-z0-9][a-z0-9_-]*-[0-9a-f]{12}$/);
    expect(FileBoard.idFor('ISW-KO-M1')).not.toBe(FileBoard.idFor('isw-ko-m1'));
    const p = post(9, '2025-03-02T19:45:00-05:00', { key: '../../outside:Key' });
    const ref = await board().publish(p);
    expect(path.dirname(fileURLToPath(ref.url))).toBe(path.join(dir, 'posts'));
    expect(await board().find(p)).toEqual(ref);
  });

  it('leaves no temporary files behind', async () => {
    const b = board();
    await Promise.all([1, 2, 3, 4, 5].map((n) => b.publish(post(n, `2025-03-0${n}T12:00:00Z`))));
    const names = [...(await readdir(dir)), ...(await readdir(path.join(dir, 'posts')))];
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await indexTitles()).toHaveLength(5);
  });

  it('refuses unsafe HTML before writing anything', async () => {
    const bad = post(1, '2025-03-02T19:45:00-05:00', {
      html: '<p onclick="x()">hi</p><script>alert(1)</script>',
    });
    await expect(board().publish(bad)).rejects.toMatchObject({
      name: 'PublishError',
      code: 'UNSAFE_CONTENT',
    });
    await expect(readdir(path.join(dir, 'posts'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('updating a post the board does not have is POST_NOT_FOUND; a foreign id is BOARD_REJECTED', async () => {
    const p = post(1, '2025-03-02T19:45:00-05:00');
    await expect(board().update({ id: 'isw-ko-m1', url: 'file:///x' }, p)).rejects.toMatchObject({
      code: 'POST_NOT_FOUND',
      kind: 'user',
    });
    await expect(board().update({ id: '../index', url: 'file:///x' }, p)).rejects.toMatchObject({
      code: 'BOARD_REJECTED',
    });
    const ref = await board().publish(p);
    await expect(board().update(ref, post(2, '2025-03-02T19:45:00-05:00'))).rejects.toMatchObject({
      code: 'BOARD_REJECTED',
    });
  });

  it('a damaged record is BOARD_CORRUPT for its post and skipped when the index is rebuilt', async () => {
    const b = board();
    await b.publish(post(1, '2025-03-02T19:45:00-05:00'));
    await b.publish(post(2, '2025-03-03T19:45:00-05:00'));
    await writeFile(path.join(dir, 'posts', 'isw-ko-m1.json'), '{"half": ');
    await expect(b.find(post(1, ''))).rejects.toMatchObject({ code: 'BOARD_CORRUPT' });
    // index.json (the index's own list) still has it: its page is there.
    await b.publish(post(3, '2025-03-04T19:45:00-05:00'));
    expect(await indexTitles()).toEqual([post(3, '').title, post(2, '').title, post(1, '').title]);
    // A damaged index.json is rebuilt from the records, and the damaged record is left out.
    await writeFile(path.join(dir, 'index.json'), 'not json');
    await b.publish(post(4, '2025-03-05T19:45:00-05:00'));
    expect(await indexTitles()).toEqual([post(4, '').title, post(3, '').title, post(2, '').title]);
  });

  it('writes a burst of posts concurrently and lists every one of them in the index', async () => {
    const b = board();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        b.publish(post(100 + i, `2025-04-${String((i % 28) + 1).padStart(2, '0')}T10:00:00-04:00`)),
      ),
    );
    expect(await indexTitles()).toHaveLength(30);
    expect(await b.list()).toHaveLength(30);
  });

  it('a board directory that cannot be used is BOARD_MISCONFIGURED (a user error, not retried)', async () => {
    // A file where the directory should be: fails the same way for root, unlike permission bits.
    const notADir = path.join(dir, 'not-a-dir');
    await writeFile(notADir, 'x');
    const err: unknown = await new FileBoard(notADir, { templates })
      .publish(post(1, '2025-03-02T19:45:00-05:00'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect((err as PublishError).code).toBe('BOARD_MISCONFIGURED');
    expect((err as PublishError).retriable).toBe(false);
  });
});
