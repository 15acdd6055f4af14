// Covers the Rhymix/XE test server against RHYMIX.md: CSRF rules, session rotation, HTTP 200 refusals, categories, full-replace edits, search_option, escaping, spam ban, ERR_UNSAFE_VAR.
import { CookieJar } from 'tough-cookie';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BOT_MEMBER,
  decodeTitle,
  OTHER_MEMBER,
  RhymixTestServer,
  type RhymixServerOptions,
  type TestMember,
} from '../support/rhymix-server.js';

/** A deliberately plain client, independent of the adapter: what a browser's exec_json does. */
class RawClient {
  readonly jar = new CookieJar();
  token: string | null = null;
  constructor(readonly base: string) {}

  async get(query: string): Promise<{ status: number; html: string }> {
    const url = `${this.base}/index.php?${query}`;
    const res = await fetch(url, {
      headers: { Cookie: await this.jar.getCookieString(url) },
      redirect: 'manual',
    });
    await this.keep(res, url);
    const html = await res.text();
    const m = /<meta name="csrf-token" content="([^"]+)"/.exec(html);
    if (m?.[1] !== undefined) this.token = m[1];
    return { status: res.status, html };
  }

  async post(
    act: string,
    fields: Record<string, string>,
    options: { origin?: boolean; referer?: string | null; token?: boolean; json?: boolean } = {},
  ): Promise<{
    status: number;
    answer: Record<string, unknown> & { error: number };
    location: string | null;
  }> {
    const url = `${this.base}/index.php`;
    const headers: Record<string, string> = { Cookie: await this.jar.getCookieString(url) };
    if (options.json ?? true) {
      headers['Accept'] = 'application/json';
      headers['Content-Type'] = 'application/json';
    } else {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    if (options.origin ?? true) headers['Origin'] = this.base;
    const referer = options.referer === undefined ? `${this.base}/index.php?mid=isw` : options.referer;
    if (referer !== null) headers['Referer'] = referer;
    if ((options.token ?? true) && this.token !== null) headers['X-CSRF-Token'] = this.token;
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ act, ...fields }).toString(),
      redirect: 'manual',
    });
    await this.keep(res, url);
    const text = await res.text();
    return {
      status: res.status,
      answer: (text === '' ? { error: NaN } : JSON.parse(text)) as Record<string, unknown> & {
        error: number;
      },
      location: res.headers.get('location'),
    };
  }

  async login(member: TestMember = BOT_MEMBER): Promise<void> {
    await this.get('mid=isw');
    const { answer } = await this.post('procMemberLogin', {
      user_id: member.userId,
      password: member.password,
    });
    expect(answer.error).toBe(0);
  }

  async cookie(name: string): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(this.base);
    return cookies.find((c) => c.key === name)?.value;
  }

  private async keep(res: Response, url: string): Promise<void> {
    for (const c of res.headers.getSetCookie()) await this.jar.setCookie(c, url);
  }
}

let server: RhymixTestServer | null = null;
async function start(options: RhymixServerOptions = {}): Promise<RhymixTestServer> {
  server = await RhymixTestServer.start(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = null;
});

function docFields(s: RhymixTestServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    mid: 'isw',
    title: '제목',
    content: '<p>본문</p>',
    category_srl: String(s.categorySrl('우크라이나')),
    ...extra,
  };
}

describe('Rhymix test server: requests and answers', () => {
  it('answers refusals with HTTP 200 and an error code, and a plain form POST with a 302', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const bad = await c.post('procMemberLogin', { user_id: 'iswbot', password: 'wrong' });
    expect(bad.status).toBe(200);
    expect(bad.answer.error).toBe(-1);
    expect(bad.answer['message']).toBe('아이디 또는 비밀번호가 일치하지 않습니다.');
    const plain = await c.post(
      'procMemberLogin',
      { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password },
      { json: false },
    );
    expect(plain.status).toBe(302);
    expect(plain.location).toContain('mid=isw');
  });

  it('logs in with the JSON form of exec_json and says success', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const ok = await c.post('procMemberLogin', { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password });
    expect(ok.answer).toEqual({ redirect_url: '/index', error: 0, message: 'success' });
    expect(await c.cookie('rx_login_status')).toBeDefined();
  });

  it('lists categories as an object keyed by category_srl', async () => {
    const s = await start({ categories: ['우크라이나', '중동'] });
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const { answer } = await c.post('dispBoardCategoryList', { mid: 'isw' });
    const list = answer['category_list'] as Record<string, { category_srl: number; title: string }>;
    expect(Object.values(list).map((x) => x.title)).toEqual(['우크라이나', '중동']);
    for (const [key, value] of Object.entries(list)) expect(key).toBe(String(value.category_srl));
  });
});

describe('Rhymix test server: CSRF', () => {
  it('puts the token in a meta tag and refuses POSTs without it or without Origin and Referer', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    expect(c.token).toMatch(/^[0-9a-f]+$/);
    const creds = { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password };
    const noToken = await c.post('procMemberLogin', creds, { token: false });
    expect(noToken.answer).toMatchObject({ error: -1, errorDetail: 'ERR_CSRF_CHECK_FAILED' });
    const noOrigin = await c.post('procMemberLogin', creds, { origin: false, referer: null });
    expect(noOrigin.answer).toMatchObject({ error: -1, errorDetail: 'ERR_CSRF_CHECK_FAILED' });
    const foreign = await c.post('procMemberLogin', creds, {
      origin: false,
      referer: 'https://evil.example/index.php',
    });
    expect(foreign.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
    const refererOnly = await c.post('procMemberLogin', creds, { origin: false });
    expect(refererOnly.answer.error).toBe(0);
  });

  it('keeps the token across login and session rotation', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const before = c.token;
    await c.post('procMemberLogin', { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password });
    await c.get('mid=isw'); // rotates PHPSESSID
    expect(c.token).toBe(before);
    const list = await c.post('dispBoardContentList', { mid: 'isw' });
    expect(list.answer.error).toBe(0);
  });

  it('XE 1.x mode: no token, only the Referer host is checked, and refusals carry no errorDetail', async () => {
    const s = await start({ flavor: 'xe' });
    const c = new RawClient(s.url);
    const page = await c.get('mid=isw');
    expect(page.html).not.toContain('csrf-token');
    expect(c.token).toBeNull();
    const creds = { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password };
    const foreign = await c.post('procMemberLogin', creds, { referer: 'https://evil.example/' });
    expect(foreign.answer.error).toBe(-1);
    expect(foreign.answer['errorDetail']).toBeUndefined();
    const ok = await c.post('procMemberLogin', creds, { origin: false });
    expect(ok.answer.error).toBe(0);
    expect(await c.cookie('xe_logged')).toBe('true');
  });
});

describe('Rhymix test server: sessions', () => {
  it('regenerates PHPSESSID on the first GET after login; the old id is dead at once', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const before = await c.cookie('PHPSESSID');
    await c.get('mid=isw');
    const after = await c.cookie('PHPSESSID');
    expect(after).not.toBe(before);
    // A client that ignores the rotation sends the old id: a fresh anonymous session, stale token.
    const stale = new RawClient(s.url);
    await stale.jar.setCookie(`PHPSESSID=${before ?? ''}`, s.url);
    stale.token = c.token;
    const answer = await stale.post('procBoardInsertDocument', docFields(s));
    expect(answer.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
    // The client that followed it is still logged in.
    const ok = await c.post('procBoardInsertDocument', docFields(s));
    expect(ok.answer.error).toBe(0);
  });

  it('regenerates the id of a logged-in session older than sessionRotateMs on any request', async () => {
    const s = await start({ sessionRotateMs: 0 });
    const c = new RawClient(s.url);
    await c.login();
    const ids = new Set<string | undefined>();
    for (let i = 0; i < 3; i++) {
      await c.post('dispBoardContentList', { mid: 'isw' });
      ids.add(await c.cookie('PHPSESSID'));
    }
    expect(ids.size).toBe(3);
  });

  it('answers "not logged in" after logOutEveryone, and a CSRF failure after destroySessions', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    s.logOutEveryone();
    const out = await c.post('procBoardInsertDocument', docFields(s));
    expect(out.answer).toMatchObject({ error: -1, message: '로그인이 필요합니다.' });
    await c.login();
    s.destroySessions();
    const gone = await c.post('procBoardInsertDocument', docFields(s));
    expect(gone.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
  });
});

describe('Rhymix test server: documents', () => {
  it('requires a category from members, and escapes titles while filtering class and on* attributes', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const noCat = await c.post('procBoardInsertDocument', { mid: 'isw', title: '제목', content: '<p>x</p>' });
    expect(noCat.answer).toMatchObject({ error: -1, message: '분류 값은 필수입니다.' });
    const made = await c.post(
      'procBoardInsertDocument',
      docFields(s, {
        title: 'A & B "인용" <태그>',
        content: '<p class="x" onclick="evil()">본문</p>',
      }),
    );
    expect(made.answer).toMatchObject({ error: 0, message: '등록했습니다.', mid: 'isw' });
    const srl = made.answer['document_srl'] as number;
    const doc = s.document(srl);
    expect(doc?.title).toBe('A &amp; B &quot;인용&quot; &lt;태그&gt;');
    expect(decodeTitle(doc?.title ?? '')).toBe('A & B "인용" <태그>');
    expect(doc?.content).toBe('<p>본문</p>');
    const view = await c.post('dispBoardContentView', { mid: 'isw', document_srl: String(srl) });
    expect((view.answer['oDocument'] as { title: string }).title).toBe(
      'A &amp; B &quot;인용&quot; &lt;태그&gt;',
    );
    // As a real Rhymix answers: a missing document is no error, just no oDocument; a document of
    // another board is shown under this board's mid.
    const missing = await c.post('dispBoardContentView', { mid: 'isw', document_srl: '9999' });
    expect(missing.answer).toMatchObject({ error: 0 });
    expect(missing.answer['oDocument']).toBeUndefined();
    const other = s.addDocument({ mid: 'other', title: '다른 게시판' });
    const shown = await c.post('dispBoardContentView', {
      mid: 'isw',
      document_srl: String(other.documentSrl),
    });
    expect((shown.answer['oDocument'] as { title: string }).title).toBe('다른 게시판');
  });

  it('replaces the whole document on edit: fields left out are reset', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const made = await c.post(
      'procBoardInsertDocument',
      docFields(s, { tags: 'a,b', comment_status: 'ALLOW', extra_vars1: 'https://example.org/' }),
    );
    const srl = String(made.answer['document_srl']);
    expect(s.document(Number(srl))).toMatchObject({
      tags: ['a', 'b'],
      commentStatus: 'ALLOW',
      extraVars: { 1: 'https://example.org/' },
    });
    const edited = await c.post(
      'procBoardInsertDocument',
      docFields(s, { document_srl: srl, title: '새 제목' }),
    );
    expect(edited.answer).toMatchObject({ error: 0, message: '수정했습니다.', document_srl: Number(srl) });
    expect(s.document(Number(srl))).toMatchObject({
      title: '새 제목',
      tags: [],
      commentStatus: 'DENY',
      extraVars: {},
      revision: 2,
    });
  });

  it("refuses an unknown document_srl on insert and another member's document as 권한이 없습니다 (-2)", async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const unknown = await c.post('procBoardInsertDocument', docFields(s, { document_srl: '9999' }));
    expect(unknown.answer).toMatchObject({ error: -2, message: '권한이 없습니다.' });
    const theirs = s.addDocument({ member: OTHER_MEMBER, title: '남의 글' });
    const edit = await c.post(
      'procBoardInsertDocument',
      docFields(s, { document_srl: String(theirs.documentSrl) }),
    );
    expect(edit.answer).toMatchObject({ error: -2, message: '권한이 없습니다.' });
    const del = await c.post('procBoardDeleteDocument', { mid: 'isw', document_srl: '9999' });
    expect(del.answer).toMatchObject({ error: -2, message: '대상을 찾을 수 없습니다.' });
    expect(s.documents()).toHaveLength(1);
  });

  it('ignores a search without search_option[<target>]=1 and matches tags exactly with it', async () => {
    const s = await start();
    s.addDocument({ title: '하나', tags: ['isw-ko-m1'] });
    s.addDocument({ title: '둘', tags: ['isw-ko-m12'] });
    s.addDocument({ title: '셋', tags: ['다른'] });
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const search = { mid: 'isw', search_target: 'tag', search_keyword: 'isw-ko-m1' };
    const ignored = await c.post('dispBoardContentList', search);
    expect((ignored.answer['document_list'] as unknown[]).length).toBe(3);
    const honoured = await c.post('dispBoardContentList', { ...search, 'search_option[tag]': '1' });
    const found = honoured.answer['document_list'] as { title: string; tags: string[] }[];
    expect(found.map((d) => d.title)).toEqual(['하나']);
    expect(found[0]?.tags).toEqual(['isw-ko-m1']);
  });

  it('refuses <?, <% and <script in any value with ERR_UNSAFE_VAR before anything else', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    for (const bad of [
      { content: '<p><?php echo 1; ?></p>' },
      { title: '<% x %>' },
      { content: '<script>alert(1)</script>' },
      { tags: 'a,<script>' },
    ]) {
      const { answer } = await c.post('procBoardInsertDocument', docFields(s, bad));
      expect(answer).toMatchObject({ error: -1, errorDetail: 'ERR_UNSAFE_VAR' });
    }
    expect(s.documents()).toHaveLength(0);
  });
});

describe('Rhymix test server: switches', () => {
  it('spam filter: logs every write, edits too; refuses a new post after one, bans the IP after 3', async () => {
    const s = await start({ spamWindowMs: 60_000 });
    s.spamFilter = true;
    const c = new RawClient(s.url);
    await c.login();
    const first = await c.post('procBoardInsertDocument', docFields(s));
    expect(first.answer.error).toBe(0);
    const srl = String(first.answer['document_srl']);
    // An edit is not checked, but it is logged: it counts against the next new post.
    const edit = await c.post('procBoardInsertDocument', docFields(s, { document_srl: srl }));
    expect(edit.answer.error).toBe(0);
    const tooSoon = await c.post('procBoardInsertDocument', docFields(s));
    expect(tooSoon.answer).toMatchObject({
      error: -1,
      message: expect.stringMatching(/^60초 이내에 연속 글 작성은 금지됩니다/) as string,
    });
    expect(s.bannedIps.size).toBe(0);
    const banned = await c.post('procBoardInsertDocument', docFields(s));
    expect(banned.answer).toMatchObject({
      error: -1,
      message: 'IP가 차단되었습니다. 사이트 관리자에게 문의 바랍니다.',
    });
    expect(s.bannedIps.has('127.0.0.1')).toBe(true);
    // A banned IP cannot edit either.
    expect((await c.post('procBoardInsertDocument', docFields(s, { document_srl: srl }))).answer.error).toBe(
      -1,
    );
  });

  it('lets new posts through once the window has passed', async () => {
    let clock = 1_000_000;
    const s = await start({ spamWindowMs: 10_000, now: () => clock });
    s.spamFilter = true;
    const c = new RawClient(s.url);
    await c.login();
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer.error).toBe(0);
    clock += 9_999;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer.error).toBe(-1);
    clock += 10_000;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer.error).toBe(0);
    expect(s.bannedIps.size).toBe(0);
  });

  it('captcha, permission and size limit refuse the post; the write page shows a captcha or no form', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    expect((await c.get('mid=isw&act=dispBoardWrite')).html).toContain('name="title"');
    s.captcha = true;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer.error).toBe(-1);
    expect((await c.get('mid=isw&act=dispBoardWrite')).html).toContain('g-recaptcha');
    s.captcha = false;
    s.writePermission = false;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer).toMatchObject({ error: -2 });
    const denied = await c.get('mid=isw&act=dispBoardWrite');
    expect(denied.status).toBe(403);
    expect(denied.html).not.toContain('<form');
    s.writePermission = true;
    s.documentLengthLimitKb = 1;
    const big = docFields(s, { content: `<p>${'가'.repeat(400)}</p>` });
    expect((await c.post('procBoardInsertDocument', big)).answer.error).toBe(-1);
    expect(s.documents()).toHaveLength(0);
  });

  it('answers 503 to everything while unavailable', async () => {
    const s = await start();
    s.unavailable = true;
    const res = await fetch(`${s.url}/index.php?mid=isw`);
    expect(res.status).toBe(503);
  });
});
