// Covers RhymixBoard against the Rhymix test server: create, edits instead of duplicates, session loss and rotation, CSRF, captcha/permission/spam/size refusals, unsafe content, XE 1.x.
import { afterEach, describe, expect, it } from 'vitest';
import type { Post } from '../../src/publish/post.js';
import {
  checkRhymix,
  isRhymixError,
  machineTagFor,
  RhymixBoard,
  type RhymixBoardDeps,
  type RhymixError,
  type RhymixErrorCode,
  type RhymixSettings,
} from '../../src/publish/rhymix/index.js';
import {
  BOT_MEMBER,
  decodeTitle,
  RhymixTestServer,
  type RhymixServerOptions,
} from '../support/rhymix-server.js';

const SOURCE =
  'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/';

function makePost(overrides: Partial<Post> = {}): Post {
  return {
    key: 'isw-ko-m0a1b2c3d4e5f6',
    reportId: 'm0a1b2c3d4e5f6',
    title: '[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일 & "특집"',
    html: '<h2>[요약]</h2>\n<h3>주요 요점</h3>\n<ul>\n<li>러시아군이 포크로우스크 방향에서 진격했다.</li>\n</ul>',
    text: '[요약]\n주요 요점\n- 러시아군이 포크로우스크 방향에서 진격했다.',
    sourceUrl: SOURCE,
    tags: ['우크라이나', '러시아'],
    publishedAt: '2025-03-02T20:00:00-05:00',
    ...overrides,
  };
}

let server: RhymixTestServer | null = null;
async function startServer(options: RhymixServerOptions = {}): Promise<RhymixTestServer> {
  server = await RhymixTestServer.start(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = null;
});

function settingsFor(s: RhymixTestServer, overrides: Partial<RhymixSettings> = {}): RhymixSettings {
  return {
    baseUrl: s.url,
    mid: 'isw',
    userId: BOT_MEMBER.userId,
    password: BOT_MEMBER.password,
    category: '우크라이나',
    tags: ['ISW'],
    allowComments: true,
    sourceExtraVar: 1,
    minIntervalMs: 0,
    flavor: s.flavor,
    maxContentKb: null,
    timeoutMs: 5_000,
    ...overrides,
  };
}

async function connect(
  s: RhymixTestServer,
  overrides: Partial<RhymixSettings> = {},
  deps: RhymixBoardDeps = {},
): Promise<RhymixBoard> {
  return RhymixBoard.connect(settingsFor(s, overrides), deps);
}

/** The error a promise rejects with, checked to be a RhymixError of `code`. */
async function failure(promise: Promise<unknown>, code: RhymixErrorCode): Promise<RhymixError> {
  const err: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isRhymixError(err)) throw err;
  expect(err.code).toBe(code);
  return err;
}

describe('RhymixBoard.connect', () => {
  it('opens a session, logs in with the CSRF token, Origin and Referer, and resolves the category', async () => {
    const s = await startServer();
    const board = await connect(s);
    expect(board.categorySrl).toBe(s.categorySrl('우크라이나'));
    const login = s.requests.find((r) => r.act === 'procMemberLogin');
    expect(login?.error).toBe(0);
    expect(login?.headers['x-csrf-token']).toMatch(/^[0-9a-f]+$/);
    expect(login?.headers.origin).toBe(s.url);
    expect(login?.headers.referer).toBe(`${s.url}/index.php?mid=isw`);
    expect(login?.headers['content-type']).toContain('application/json');
    expect(login?.fields['password']).toBe('(redacted)');
  });

  it('fails at start-up with BOARD_CATEGORY_MISSING listing the board categories', async () => {
    const s = await startServer({ categories: ['우크라이나', '중동'] });
    const err = await failure(connect(s, { category: '아프리카' }), 'BOARD_CATEGORY_MISSING');
    expect(err.message).toContain('"우크라이나"');
    expect(err.message).toContain('"중동"');
    expect(err.kind).toBe('user');
    const unset = await failure(connect(s, { category: null }), 'BOARD_CATEGORY_MISSING');
    expect(unset.message).toContain('"중동"');
  });

  it('accepts a board without categories when none is configured', async () => {
    const s = await startServer({ categories: [] });
    const board = await connect(s, { category: null });
    expect(board.categorySrl).toBeNull();
    await board.publish(makePost());
    expect(s.documents()[0]?.categorySrl).toBe(0);
    const none = await failure(connect(s, { category: '우크라이나' }), 'BOARD_CATEGORY_MISSING');
    // One piece of advice, not "unset it" and then "set it to one of the board's categories".
    expect(none.message).toContain('has no categories');
    expect(none.hint).toContain('unset RHYMIX_CATEGORY, or add a category "우크라이나"');
    expect(none.hint).not.toContain("one of the board's categories");
  });

  it('refuses a bad password with BOARD_AUTH_FAILED after one more try', async () => {
    const s = await startServer();
    const err = await failure(connect(s, { password: 'wrong-password' }), 'BOARD_AUTH_FAILED');
    expect(err.kind).toBe('user');
    expect(err.details['boardMessage']).toBe('아이디 또는 비밀번호가 일치하지 않습니다.');
    expect(s.requests.filter((r) => r.act === 'procMemberLogin')).toHaveLength(2);
  });

  it('says a site without a CSRF meta tag is not Rhymix (XE needs RHYMIX_FLAVOR=xe)', async () => {
    const s = await startServer({ flavor: 'xe' });
    const err = await failure(connect(s, { flavor: 'rhymix' }), 'BOARD_MISCONFIGURED');
    expect(err.hint).toContain('RHYMIX_FLAVOR=xe');
  });
});

describe('RhymixBoard: exactly once', () => {
  it('creates the document with the Korean title, category, tags, comments, source link and extra var', async () => {
    const s = await startServer();
    const board = await connect(s);
    const post = makePost();
    const { ref, created } = await board.upsert(post, null);
    expect(created).toBe(true);
    const [doc, ...rest] = s.documents();
    expect(rest).toHaveLength(0);
    expect(ref).toEqual({
      id: String(doc?.documentSrl),
      url: `${s.url}/index.php?mid=isw&document_srl=${doc?.documentSrl}`,
    });
    expect(decodeTitle(doc?.title ?? '')).toBe(post.title);
    expect(doc?.categorySrl).toBe(s.categorySrl('우크라이나'));
    expect(doc?.tags).toEqual(['우크라이나', '러시아', 'ISW', machineTagFor(post.key)]);
    expect(doc?.commentStatus).toBe('ALLOW');
    expect(doc?.extraVars).toEqual({ 1: SOURCE });
    expect(doc?.content).toContain('<h3>주요 요점</h3>');
    expect(doc?.content).toContain(`<a href="${SOURCE}">`);
    const write = s.writeRequests()[0];
    expect(write?.headers.origin).toBe(s.url);
    expect(write?.headers['x-csrf-token']).toBeDefined();
  });

  it('edits the same document on a re-run, resending every field, also from a new process', async () => {
    const s = await startServer();
    const first = await connect(s);
    const { ref } = await first.upsert(makePost(), null);
    const again = await first.upsert(makePost({ html: '<h2>[요약]</h2>\n<p>고친 본문</p>' }), ref);
    expect(again).toEqual({ ref, created: false });
    // A new process without the stored ref finds the post by its machine tag.
    const second = await connect(s, { allowComments: false });
    const third = await second.upsert(makePost({ title: '[ISW] 고친 제목' }), null);
    expect(third).toEqual({ ref, created: false });
    const docs = s.documents();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ revision: 3, commentStatus: 'DENY', extraVars: { 1: SOURCE } });
    expect(decodeTitle(docs[0]?.title ?? '')).toBe('[ISW] 고친 제목');
    expect(docs[0]?.tags).toContain(machineTagFor(makePost().key));
    expect(s.writeRequests().map((r) => r.fields['document_srl'])).toEqual([undefined, ref.id, ref.id]);
  });

  it('never edits a recorded document of another board (RHYMIX_MID changed): finds or makes its own', async () => {
    const s = await startServer();
    const board = await connect(s);
    // The post was made on board "old" (RHYMIX_MID=old before); Rhymix shows it under any mid.
    const elsewhere = s.addDocument({
      member: BOT_MEMBER,
      mid: 'old',
      title: '옛 게시판의 글',
      tags: [machineTagFor(makePost().key)],
    });
    const recorded = {
      id: String(elsewhere.documentSrl),
      url: `${s.url}/index.php?mid=old&document_srl=${elsewhere.documentSrl}`,
    };
    const { ref, created } = await board.upsert(makePost(), recorded);
    expect(created).toBe(true);
    expect(ref.id).not.toBe(recorded.id);
    expect(s.document(elsewhere.documentSrl)).toMatchObject({ revision: 1, title: '옛 게시판의 글' });
    await failure(board.update(recorded, makePost()), 'POST_NOT_FOUND');
    expect(s.document(elsewhere.documentSrl)?.revision).toBe(1);
  });

  it('publish() and find() never duplicate; update() checks the document still exists', async () => {
    const s = await startServer();
    const board = await connect(s);
    const post = makePost();
    expect(await board.find(post)).toBeNull();
    const ref = await board.publish(post);
    expect(await board.publish(post)).toEqual(ref);
    expect(await board.find(post)).toEqual(ref);
    expect(await board.update(ref, post)).toEqual(ref);
    expect(s.documents()).toHaveLength(1);
    expect(s.documents()[0]?.revision).toBe(3);
    s.deleteDocument(Number(ref.id));
    await failure(board.update(ref, post), 'POST_NOT_FOUND');
    // upsert with the dead ref falls back to the tag search, finds nothing, and posts again.
    const back = await board.upsert(post, ref);
    expect(back.created).toBe(true);
    expect(back.ref.id).not.toBe(ref.id);
    expect(s.documents()).toHaveLength(1);
  });

  it("ignores other members' documents and other posts' tags", async () => {
    const s = await startServer();
    s.addDocument({ title: '남의 글', tags: ['isw-ko-m0a1b2c3d4e5f6x'] });
    const board = await connect(s);
    const { created } = await board.upsert(makePost(), null);
    expect(created).toBe(true);
    expect(s.documents()).toHaveLength(2);
  });

  it('refuses to post when the board ignores the tag search, instead of risking a duplicate', async () => {
    const s = await startServer();
    s.addDocument({ title: '남의 글', tags: ['기타'] });
    // A board (or proxy) that drops search_option[tag]: the whole list comes back.
    const dropSearchOption: typeof fetch = (input, init) => {
      const body =
        typeof init?.body === 'string' ? init.body.replace(/&search_option%5Btag%5D=1/, '') : init?.body;
      return fetch(input, { ...init, ...(body === undefined ? {} : { body }) });
    };
    const board = await connect(s, {}, { fetch: dropSearchOption });
    await failure(board.upsert(makePost(), null), 'BOARD_MISCONFIGURED');
    expect(s.writeRequests()).toHaveLength(0);
  });
});

describe('RhymixBoard: sessions and CSRF', () => {
  it('logs in again and retries once when the board logged the member out mid-run', async () => {
    const s = await startServer();
    const board = await connect(s);
    const { ref } = await board.upsert(makePost(), null);
    s.logOutEveryone();
    expect((await board.upsert(makePost({ html: '<p>둘째 판</p>' }), ref)).created).toBe(false);
    expect(s.documents()).toHaveLength(1);
    expect(s.requests.filter((r) => r.act === 'procMemberLogin')).toHaveLength(2);
  });

  it('recovers when the session is destroyed between the tag search and the write (stale CSRF token)', async () => {
    // With the admin's token check on, the stale token is what the board refuses.
    const s = await startServer({ strictCsrfToken: true });
    let armed = false;
    // Destroy every session just before the edit reaches the board, after the search found the post.
    const destroyBeforeWrite: typeof fetch = (input, init) => {
      if (armed && typeof init?.body === 'string' && init.body.startsWith('act=procBoardInsertDocument')) {
        armed = false;
        s.destroySessions();
      }
      return fetch(input, init);
    };
    const board = await connect(s, {}, { fetch: destroyBeforeWrite });
    await board.upsert(makePost(), null);
    armed = true;
    expect((await board.upsert(makePost({ html: '<p>셋째 판</p>' }), null)).created).toBe(false);
    expect(s.documents()).toHaveLength(1);
    expect(s.documents()[0]?.content).toContain('셋째 판');
    expect(s.writeRequests().map((r) => r.errorDetail)).toEqual([null, 'ERR_CSRF_CHECK_FAILED', null]);
  });

  it("recovers the same way with the token check off, where the lost session makes the write a guest's", async () => {
    const s = await startServer();
    let armed = false;
    const destroyBeforeWrite: typeof fetch = (input, init) => {
      if (armed && typeof init?.body === 'string' && init.body.startsWith('act=procBoardInsertDocument')) {
        armed = false;
        s.destroySessions();
      }
      return fetch(input, init);
    };
    const board = await connect(s, {}, { fetch: destroyBeforeWrite });
    await board.upsert(makePost(), null);
    armed = true;
    expect((await board.upsert(makePost({ html: '<p>셋째 판</p>' }), null)).created).toBe(false);
    expect(s.documents()).toHaveLength(1);
    expect(s.documents()[0]?.content).toContain('셋째 판');
    // The guest's edit of a member's post: "권한이 없습니다." (-2).
    expect(s.writeRequests().map((r) => r.error)).toEqual([0, -2, 0]);
  });

  it('follows PHPSESSID rotation on every page load without logging in again', async () => {
    // Rhymix regenerates the id only on a GET (a POST leaves it to the next page load).
    const s = await startServer({ sessionRotateMs: 0 });
    const board = await connect(s);
    for (let i = 0; i < 3; i++) {
      await board.probeWriteForm();
      await board.upsert(makePost({ key: `isw-ko-m${i}`, reportId: `m${i}` }), null);
    }
    expect(s.documents()).toHaveLength(3);
    expect(new Set(s.writeRequests().map((r) => r.sessionId)).size).toBe(3);
    expect(s.requests.filter((r) => r.act === 'procMemberLogin')).toHaveLength(1);
    expect(s.requests.filter((r) => r.method === 'POST' && r.error !== 0)).toHaveLength(0);
  });

  it('gives up with BOARD_CSRF_FAILED when the CSRF check keeps failing with a fresh token', async () => {
    const s = await startServer();
    const board = await connect(s);
    s.failCsrf = true;
    const err = await failure(board.upsert(makePost(), null), 'BOARD_CSRF_FAILED');
    expect(err.kind).toBe('user');
    expect(s.writeRequests()).toHaveLength(0);
  });
});

describe('RhymixBoard: refusals', () => {
  it('reports a captcha as BOARD_CAPTCHA_REQUIRED after one try', async () => {
    const s = await startServer();
    const board = await connect(s);
    s.captcha = true;
    const err = await failure(board.upsert(makePost(), null), 'BOARD_CAPTCHA_REQUIRED');
    expect(err.kind).toBe('user');
    expect(s.writeRequests()).toHaveLength(1);
  });

  it('reports a missing write permission, and an edit lock, as BOARD_PERMISSION_DENIED after one try', async () => {
    const s = await startServer();
    const board = await connect(s);
    const { ref } = await board.upsert(makePost(), null);
    s.editLocked.add(Number(ref.id));
    await failure(board.upsert(makePost(), ref), 'BOARD_PERMISSION_DENIED');
    expect(s.writeRequests()).toHaveLength(2);
    s.writePermission = false;
    const err = await failure(
      board.upsert(makePost({ key: 'isw-ko-other', reportId: 'other' }), null),
      'BOARD_PERMISSION_DENIED',
    );
    // "관리자만 사용할 수 있는 기능입니다." (-1): the board's permission check, not the action's.
    expect(err.details['boardError']).toBe(-1);
    expect(s.writeRequests()).toHaveLength(3);
  });

  // Rhymix never refuses a category_srl it does not have: it files the post under no category
  // (answer `category_srl: 0`), checked against a real 2.1.35. The job fails so an admin sees it;
  // the document stands and a retry edits it (found by its tag), never a second one.
  it('notices a category removed mid-run instead of leaving the post in no category unnoticed', async () => {
    const s = await startServer();
    const board = await connect(s);
    s.removeCategory('우크라이나');
    const err = await failure(board.upsert(makePost(), null), 'BOARD_CATEGORY_MISSING');
    expect(err.message).toContain('no longer on the board');
    expect(s.documents()).toHaveLength(1);
    expect(s.documents()[0]?.categorySrl).toBe(0);
    expect(s.writeRequests()).toHaveLength(1);
    await failure(board.upsert(makePost(), null), 'BOARD_CATEGORY_MISSING');
    expect(s.documents()).toHaveLength(1);
  });

  it('reports an unnamed refusal (a size limit it was not told of) as BOARD_REJECTED after two tries', async () => {
    const s = await startServer();
    s.documentLengthLimitKb = 1;
    const board = await connect(s);
    const err = await failure(
      board.upsert(makePost({ html: `<p>${'가'.repeat(600)}</p>` }), null),
      'BOARD_REJECTED',
    );
    expect(err.details['boardMessage']).toBe('내용이 너무 깁니다.');
    expect(s.writeRequests()).toHaveLength(2);
  });

  it('maps the board answering ERR_UNSAFE_VAR to BOARD_UNSAFE_CONTENT without a retry', async () => {
    const s = await startServer();
    // Something between us and the board adds what the board refuses.
    const tamper: typeof fetch = (input, init) => {
      const body =
        typeof init?.body === 'string'
          ? init.body.replace('act=procBoardInsertDocument', 'act=procBoardInsertDocument&x=%3C%3F')
          : init?.body;
      return fetch(input, { ...init, ...(body === undefined ? {} : { body }) });
    };
    const board = await connect(s, {}, { fetch: tamper });
    const err = await failure(board.upsert(makePost(), null), 'BOARD_UNSAFE_CONTENT');
    expect(err.details['errorDetail']).toBe('ERR_UNSAFE_VAR');
    expect(s.writeRequests()).toHaveLength(1);
  });

  it('says BOARD_UNAVAILABLE (retriable) when the site is down or gone', async () => {
    const s = await startServer();
    const board = await connect(s);
    s.unavailable = true;
    const err = await failure(board.upsert(makePost(), null), 'BOARD_UNAVAILABLE');
    expect(err.kind).toBe('operational');
    await s.close();
    await failure(board.upsert(makePost(), null), 'BOARD_UNAVAILABLE');
  });
});

describe('RhymixBoard: unsafe content is never sent', () => {
  const cases: [string, Partial<Post>, RhymixErrorCode][] = [
    ['a script', { html: '<p>x</p><script>alert(1)</script>' }, 'BOARD_UNSAFE_CONTENT'],
    ['a class attribute', { html: '<p class="lead">x</p>' }, 'BOARD_UNSAFE_CONTENT'],
    ['<? in the title', { title: '제목 <?php' }, 'BOARD_UNSAFE_CONTENT'],
    ['<% in a tag', { tags: ['<%= x %>'] }, 'BOARD_UNSAFE_CONTENT'],
    ['a 300-character title', { title: '가'.repeat(300) }, 'BOARD_TOO_LARGE'],
  ];
  it.each(cases)('refuses %s before any request', async (_what, overrides, code) => {
    const s = await startServer();
    const board = await connect(s);
    const before = s.requests.length;
    await failure(board.upsert(makePost(overrides), null), code);
    expect(s.requests.length).toBe(before);
  });

  it('refuses a body over RHYMIX_MAX_CONTENT_KB before sending it', async () => {
    const s = await startServer();
    const board = await connect(s, { maxContentKb: 1 });
    await failure(board.upsert(makePost({ html: `<p>${'가'.repeat(600)}</p>` }), null), 'BOARD_TOO_LARGE');
    expect(s.writeRequests()).toHaveLength(0);
  });
});

describe('RhymixBoard: spam filter', () => {
  it('spaces new posts by the minimum interval so the filter never refuses them', async () => {
    const s = await startServer({ spamWindowMs: 150 });
    s.spamFilter = true;
    const board = await connect(s, { minIntervalMs: 250 }, { spamWindowMs: 150 });
    for (let i = 0; i < 3; i++)
      await board.upsert(makePost({ key: `isw-ko-s${i}`, reportId: `s${i}` }), null);
    const writes = s.writeRequests();
    expect(writes.map((w) => w.error)).toEqual([0, 0, 0]);
    // Arrival times carry a few ms of request latency: slack per gap (still above the 150 ms
    // window), and a tight check on the whole span.
    for (let i = 1; i < writes.length; i++) {
      expect((writes[i]?.at ?? 0) - (writes[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(200);
    }
    expect((writes[2]?.at ?? 0) - (writes[0]?.at ?? 0)).toBeGreaterThanOrEqual(2 * 250 - 15);
    expect(s.bannedIps.size).toBe(0);
  });

  it('stops at once with BOARD_SPAM_LIMITED when posts come too fast: no retry towards the IP ban', async () => {
    const s = await startServer({ spamWindowMs: 60_000 });
    s.spamFilter = true;
    const board = await connect(s, { minIntervalMs: 0 }, { spamWindowMs: 60_000 });
    await board.upsert(makePost(), null);
    const err = await failure(
      board.upsert(makePost({ key: 'isw-ko-next', reportId: 'next' }), null),
      'BOARD_SPAM_LIMITED',
    );
    expect(err.kind).toBe('user');
    expect(err.message).toContain('within 60 s');
    expect(s.writeRequests()).toHaveLength(2);
    expect(s.bannedIps.size).toBe(0);
    expect(s.documents()).toHaveLength(1);
  });

  it('counts an edit as a write: a new post right after an edit is BOARD_SPAM_LIMITED, not an unnamed refusal', async () => {
    let clock = 1_000_000;
    const s = await startServer({ spamWindowMs: 10_000, now: () => clock });
    s.spamFilter = true;
    const board = await connect(s, { minIntervalMs: 0 }, { now: () => clock });
    const { ref } = await board.upsert(makePost(), null);
    clock += 11_000; // past the window since the create
    await board.upsert(makePost({ html: '<p>고친 본문</p>' }), ref);
    await failure(
      board.upsert(makePost({ key: 'isw-ko-next', reportId: 'next' }), null),
      'BOARD_SPAM_LIMITED',
    );
    expect(s.bannedIps.size).toBe(0);
  });

  it.each(['ko', 'en', 'ja'] as const)(
    'tells "too soon" from "banned" in the site language %s (the ja warning names the ban too)',
    async (language) => {
      const s = await startServer({ spamWindowMs: 60_000 });
      s.spamFilter = true;
      s.spamLanguage = language;
      const board = await connect(s, { minIntervalMs: 0 }, { spamWindowMs: 60_000 });
      await board.upsert(makePost(), null);
      await failure(board.upsert(makePost({ key: 'isw-ko-b', reportId: 'b' }), null), 'BOARD_SPAM_LIMITED');
      await failure(board.upsert(makePost({ key: 'isw-ko-c', reportId: 'c' }), null), 'BOARD_SPAM_LIMITED');
      expect(s.bannedIps.size).toBe(0);
      await failure(board.upsert(makePost({ key: 'isw-ko-d', reportId: 'd' }), null), 'BOARD_IP_BANNED');
      expect(s.bannedIps.size).toBe(1);
    },
  );

  it('says BOARD_IP_BANNED, with what to ask the board admin, when the spam filter banned this IP', async () => {
    const s = await startServer();
    s.spamFilter = true;
    s.bannedIps.add('127.0.0.1');
    const board = await connect(s, { minIntervalMs: 0 });
    const err = await failure(board.upsert(makePost(), null), 'BOARD_IP_BANNED');
    expect(err.describe()).toContain('스팸 IP 목록');
    expect(s.writeRequests()).toHaveLength(1);
  });
});

describe('RhymixBoard on XE 1.x', () => {
  it('logs in without a token (Referer only), creates and edits with the same request format', async () => {
    const s = await startServer({ flavor: 'xe' });
    const board = await connect(s, { flavor: 'xe' });
    const { ref } = await board.upsert(makePost(), null);
    const again = await board.upsert(makePost({ html: '<p>고침</p>' }), null);
    expect(again).toEqual({ ref, created: false });
    expect(s.documents()).toHaveLength(1);
    const write = s.writeRequests()[0];
    expect(write?.headers['x-csrf-token']).toBeUndefined();
    expect(write?.headers.cookie).toContain('xe_logged=true');
  });
});

describe('checkRhymix', () => {
  it('says ok when the member can write, and explains a captcha or a bad password', async () => {
    const s = await startServer();
    const ok = await checkRhymix(settingsFor(s));
    expect(ok).toMatchObject({ ok: true, hint: null });
    expect(ok.message).toContain('우크라이나');
    s.captcha = true;
    const captcha = await checkRhymix(settingsFor(s));
    expect(captcha.ok).toBe(false);
    expect(captcha.message).toContain('captcha');
    s.captcha = false;
    s.writePermission = false;
    expect((await checkRhymix(settingsFor(s))).ok).toBe(false);
    const bad = await checkRhymix(settingsFor(s, { password: 'nope-nope' }));
    expect(bad.ok).toBe(false);
    expect(bad.hint).toContain('RHYMIX_PASSWORD');
    expect(s.writeRequests()).toHaveLength(0);
  });
});
