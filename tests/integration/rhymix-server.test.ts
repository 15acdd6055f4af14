// Covers the Rhymix/XE test server against RHYMIX.md and a real Rhymix 2.1.35: CSRF rules (both modes), session rotation, cookies, HTTP 200 refusals and their codes, answer shapes, categories, full-replace edits, search_option, escaping, tags, spam ban, ERR_UNSAFE_VAR.
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
    options: {
      origin?: boolean | string;
      referer?: string | null;
      token?: boolean;
      json?: boolean;
      secFetchSite?: string;
    } = {},
  ): Promise<{
    status: number;
    answer: Record<string, unknown> & { error: number };
    text: string;
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
    const origin = options.origin ?? true;
    if (origin !== false) headers['Origin'] = origin === true ? this.base : origin;
    if (options.secFetchSite !== undefined) headers['Sec-Fetch-Site'] = options.secFetchSite;
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
    const json = (res.headers.get('content-type') ?? '').includes('application/json');
    return {
      status: res.status,
      answer: (json ? JSON.parse(text) : { error: NaN }) as Record<string, unknown> & { error: number },
      text,
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

  /** The raw Set-Cookie headers of a GET, for their attributes. */
  async setCookies(query: string): Promise<string[]> {
    const url = `${this.base}/index.php?${query}`;
    const res = await fetch(url, {
      headers: { Cookie: await this.jar.getCookieString(url) },
      redirect: 'manual',
    });
    await res.text();
    await this.keep(res, url);
    return res.headers.getSetCookie();
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
  it('answers refusals with HTTP 200 and an error code; a plain form POST goes to redirect_url or a 403 page', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const bad = await c.post('procMemberLogin', { user_id: 'iswbot', password: 'wrong' });
    expect(bad.status).toBe(200);
    expect(bad.answer.error).toBe(-1);
    expect(bad.answer['message']).toBe('아이디 또는 비밀번호가 일치하지 않습니다.');
    const refused = await c.post(
      'procMemberLogin',
      { user_id: 'iswbot', password: 'wrong' },
      { json: false },
    );
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('아이디 또는 비밀번호가 일치하지 않습니다.');
    const plain = await c.post(
      'procMemberLogin',
      { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password },
      { json: false },
    );
    expect(plain.status).toBe(302);
    expect(plain.location).toBe('/index');
    // A plain form write is made, and the browser is sent to the new post.
    const write = await c.post('procBoardInsertDocument', docFields(s), { json: false });
    const [doc] = s.documents();
    expect(write.status).toBe(302);
    expect(write.location).toBe(`${s.url}/isw/${doc?.documentSrl}`);
  });

  it('logs in with the JSON form of exec_json and says success', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const ok = await c.post('procMemberLogin', { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password });
    expect(ok.answer).toEqual({ redirect_url: '/index', error: 0, message: 'success' });
    expect(await c.cookie('rx_login_status')).toMatch(/^[\w-]{24}$/);
  });

  it('sets SameSite=Lax cookies, rx_login_status=none for guests and rx_uatype', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    const first = await c.setCookies('mid=isw');
    expect(first).toEqual([
      expect.stringMatching(/^PHPSESSID=\w+; path=\/; HttpOnly; SameSite=Lax$/) as string,
      'rx_login_status=none; path=/; HttpOnly; SameSite=Lax',
      expect.stringMatching(/^rx_uatype=[\w-]+%3A0; path=\/; SameSite=Lax$/) as string,
    ]);
    // Nothing changed: nothing is sent again.
    expect(await c.setCookies('mid=isw')).toEqual([]);
    await c.login();
    await c.get('mid=isw'); // the rotation after login
    const status = await c.cookie('rx_login_status');
    // The same member gets the same value in another session.
    const other = new RawClient(s.url);
    await other.login();
    expect(await other.cookie('rx_login_status')).toBe(status);
    s.logOutEveryone();
    expect(await c.setCookies('mid=isw')).toEqual(['rx_login_status=none; path=/; HttpOnly; SameSite=Lax']);
  });

  it('lists categories as a JSON array with string srls, and null on a board without categories', async () => {
    const s = await start({ categories: ['우크라이나', '중동'] });
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    const { answer } = await c.post('dispBoardCategoryList', { mid: 'isw' });
    const list = answer['category_list'] as Record<string, unknown>[];
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((x) => x['title'])).toEqual(['우크라이나', '중동']);
    expect(list[0]).toMatchObject({
      mid: 'isw',
      module_srl: String(s.moduleSrl),
      category_srl: String(s.categorySrl('우크라이나')),
      parent_srl: '0',
      text: '우크라이나',
      document_count: '0',
      first: true,
    });
    expect(list[1]).toMatchObject({ category_srl: String(s.categorySrl('중동')), last: true });
    const bare = await start({ categories: [] });
    const b = new RawClient(bare.url);
    await b.get('mid=isw');
    expect((await b.post('dispBoardCategoryList', { mid: 'isw' })).answer).toEqual({
      category_list: null,
      error: 0,
      message: 'success',
    });
    await bare.close();
  });

  it('answers an action on a mid it has not with ERR_MODULE_NOT_FOUND', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    for (const act of ['dispBoardContentList', 'dispBoardCategoryList', 'procBoardInsertDocument']) {
      const { answer } = await c.post(act, docFields(s, { mid: 'nope' }));
      expect(answer).toEqual({
        errorDetail: 'ERR_MODULE_NOT_FOUND',
        error: -1,
        message: '요청한 페이지를 찾을 수 없습니다. 사이트 관리자에게 문의해 주세요.',
      });
    }
  });
});

describe('Rhymix test server: CSRF', () => {
  const creds = { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password };

  it('by default checks only where a POST comes from (Sec-Fetch-Site, Origin, Referer), not the token', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const list = { mid: 'isw' };
    const failed = {
      errorDetail: 'ERR_CSRF_CHECK_FAILED',
      error: -1,
      message: '보안정책상 허용되지 않습니다.',
    };
    expect((await c.post('dispBoardContentList', list, { token: false })).answer.error).toBe(0);
    c.token = 'not-the-token';
    expect((await c.post('dispBoardContentList', list)).answer.error).toBe(0);
    const none = await c.post('dispBoardContentList', list, { origin: false, referer: null });
    expect(none.answer).toEqual(failed);
    const foreign = await c.post('dispBoardContentList', list, { origin: 'https://evil.example' });
    expect(foreign.answer).toEqual(failed);
    const foreignReferer = await c.post('dispBoardContentList', list, {
      origin: false,
      referer: 'https://evil.example/index.php',
    });
    expect(foreignReferer.answer).toEqual(failed);
    // Origin decides before Referer; an Origin of "null" is no Origin.
    expect((await c.post('dispBoardContentList', list, { origin: false })).answer.error).toBe(0);
    expect((await c.post('dispBoardContentList', list, { origin: 'null' })).answer.error).toBe(0);
    // Sec-Fetch-Site decides before both.
    const sameOrigin = { origin: false, referer: null, secFetchSite: 'same-origin' } as const;
    expect((await c.post('dispBoardContentList', list, sameOrigin)).answer.error).toBe(0);
    const crossSite = await c.post('dispBoardContentList', list, { secFetchSite: 'cross-site' });
    expect(crossSite.answer).toEqual(failed);
    expect((await c.post('dispBoardContentList', list, { secFetchSite: 'same-site' })).answer.error).toBe(0);
  });

  it('strictCsrfToken: a member needs the meta token, and a token sent decides alone; guests fall back to Origin', async () => {
    const s = await start({ strictCsrfToken: true });
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    expect(c.token).toMatch(/^[0-9a-f]+$/);
    // A guest without a token is checked like in the default mode; with a wrong one, refused.
    expect((await c.post('dispBoardContentList', { mid: 'isw' }, { token: false })).answer.error).toBe(0);
    const token = c.token;
    c.token = 'not-the-token';
    const wrong = await c.post('procMemberLogin', creds);
    expect(wrong.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
    c.token = token;
    expect((await c.post('procMemberLogin', creds)).answer.error).toBe(0);
    const noToken = await c.post('dispBoardContentList', { mid: 'isw' }, { token: false });
    expect(noToken.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
    // The real token passes whatever the Origin says (Rhymix looks no further).
    const foreign = await c.post('dispBoardContentList', { mid: 'isw' }, { origin: 'https://evil.example' });
    expect(foreign.answer.error).toBe(0);
    // The switch can be flipped on a running board.
    s.strictCsrfToken = false;
    expect((await c.post('dispBoardContentList', { mid: 'isw' }, { token: false })).answer.error).toBe(0);
  });

  it('keeps the token across login and session rotation', async () => {
    const s = await start({ strictCsrfToken: true });
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
    const foreign = await c.post('procMemberLogin', creds, { referer: 'https://evil.example/' });
    expect(foreign.answer).toEqual({ error: -1, message: '잘못된 요청입니다.' });
    const ok = await c.post('procMemberLogin', creds, { origin: false });
    expect(ok.answer.error).toBe(0);
    expect(await c.cookie('xe_logged')).toBe('true');
  });
});

describe('Rhymix test server: sessions', () => {
  it('regenerates PHPSESSID on the first GET after login; the old id is dead at once', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.get('mid=isw');
    await c.post('procMemberLogin', { user_id: BOT_MEMBER.userId, password: BOT_MEMBER.password });
    const before = await c.cookie('PHPSESSID');
    await c.post('dispBoardContentList', { mid: 'isw' });
    expect(await c.cookie('PHPSESSID')).toBe(before);
    await c.get('mid=isw');
    const after = await c.cookie('PHPSESSID');
    expect(after).not.toBe(before);
    // A client that ignores the rotation sends the old id: a fresh guest session.
    const stale = new RawClient(s.url);
    await stale.jar.setCookie(`PHPSESSID=${before ?? ''}`, s.url);
    const answer = await stale.post('procBoardInsertDocument', docFields(s));
    expect(answer.answer).toEqual({ error: -1, message: '잘못된 요청입니다.' });
    expect(await stale.cookie('PHPSESSID')).not.toBe(before);
    // The client that followed it is still logged in.
    const ok = await c.post('procBoardInsertDocument', docFields(s));
    expect(ok.answer.error).toBe(0);
  });

  it('regenerates a session due for refresh on its next GET, never on a POST, guests included', async () => {
    let clock = 1_000_000;
    const s = await start({ sessionRotateMs: 300_000, now: () => clock });
    const c = new RawClient(s.url);
    await c.login();
    const ids = new Set([await c.cookie('PHPSESSID')]);
    clock += 300_000;
    for (let i = 0; i < 3; i++) {
      await c.post('dispBoardContentList', { mid: 'isw' });
      ids.add(await c.cookie('PHPSESSID'));
    }
    expect(ids.size).toBe(1);
    await c.get('mid=isw');
    ids.add(await c.cookie('PHPSESSID'));
    expect(ids.size).toBe(2);
    const guest = new RawClient(s.url);
    await guest.get('mid=isw');
    const guestId = await guest.cookie('PHPSESSID');
    clock += 300_000;
    await guest.get('mid=isw');
    expect(await guest.cookie('PHPSESSID')).not.toBe(guestId);
  });

  it('answers a logged-out member by the board permission, and a stale token after destroySessions', async () => {
    const s = await start({ strictCsrfToken: true });
    const c = new RawClient(s.url);
    await c.login();
    s.logOutEveryone();
    // Guests may write (Rhymix's default): the write is refused late, for want of a guest's name.
    const out = await c.post('procBoardInsertDocument', docFields(s));
    expect(out.answer).toEqual({ error: -1, message: '잘못된 요청입니다.' });
    s.guestsMayWrite = false;
    const members = await c.post('procBoardInsertDocument', docFields(s));
    expect(members.answer).toEqual({ error: -1, message: '로그인이 필요합니다.' });
    await c.login();
    s.destroySessions();
    const gone = await c.post('procBoardInsertDocument', docFields(s));
    expect(gone.answer['errorDetail']).toBe('ERR_CSRF_CHECK_FAILED');
    expect(s.documents()).toHaveLength(0);
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
    // What is already an entity is not escaped twice (PHP's known entities only); an empty title
    // is taken from the text.
    for (const [sent, stored] of [
      ['A &amp; B &#39; &hellip;', 'A &amp; B &#39; &hellip;'],
      ['&foo; &apos; &AMP;', '&amp;foo; &amp;apos; &amp;AMP;'],
    ] as const) {
      const r = await c.post('procBoardInsertDocument', docFields(s, { title: sent }));
      expect(s.document(r.answer['document_srl'] as number)?.title).toBe(stored);
    }
    const untitled = await c.post(
      'procBoardInsertDocument',
      docFields(s, { title: ' ', content: '<p>러시아군이 포크로우스크 방향에서 진격했다.</p>' }),
    );
    expect(s.document(untitled.answer['document_srl'] as number)?.title).toBe('러시아군이 포크로우스...');
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

  it('answers with documents shaped as Rhymix does: tags a string, extra_vars the column or the board variables', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const made = await c.post(
      'procBoardInsertDocument',
      docFields(s, {
        tags: 'a, B ,A,,c#d',
        comment_status: 'ALLOW',
        extra_vars1: 'https://e.org/',
        extra_vars2: 'x',
      }),
    );
    expect(made.answer).toEqual({
      mid: 'isw',
      document_srl: expect.any(Number) as number,
      category_srl: s.categorySrl('우크라이나'),
      redirect_url: `${s.url}/isw/${made.answer['document_srl'] as number}`,
      error: 0,
      message: '등록했습니다.',
    });
    const srl = made.answer['document_srl'] as number;
    // The tag module: one of each ignoring case, where first used, spelt as last; `#` splits too.
    expect(s.document(srl)).toMatchObject({ tags: ['A', 'B', 'c', 'd'], extraVars: { 1: 'https://e.org/' } });
    const common = {
      document_srl: srl,
      category_srl: s.categorySrl('우크라이나'),
      member_srl: BOT_MEMBER.memberSrl,
      nick_name: BOT_MEMBER.nickName,
      is_notice: 'N',
      title: '제목',
      tags: 'A, B, c, d',
      comment_count: 0,
      status: 'PUBLIC',
      comment_status: 'ALLOW',
    };
    const list = await c.post('dispBoardContentList', { mid: 'isw' });
    expect((list.answer['document_list'] as unknown[])[0]).toMatchObject({
      ...common,
      extra_vars: 'O:8:"stdClass":0:{}',
    });
    expect(list.answer['page_navigation']).toEqual({
      total_count: 1,
      total_page: 1,
      cur_page: 1,
      page_count: 1,
      first_page: 1,
      last_page: 1,
      point: 0,
    });
    const view = await c.post('dispBoardContentView', { mid: 'isw', document_srl: String(srl) });
    expect(view.answer['oDocument']).toMatchObject({
      ...common,
      extra_vars: [{ name: '원문', type: 'homepage', desc: '', value: 'https://e.org/' }],
    });
    const del = await c.post('procBoardDeleteDocument', { mid: 'isw', document_srl: String(srl) });
    expect(del.answer).toEqual({
      redirect_url: `${s.url}/isw`,
      mid: 'isw',
      page: null,
      error: 0,
      message: '삭제했습니다.',
    });
  });

  it('drops a category the board has not (category 0) instead of refusing the post', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const made = await c.post('procBoardInsertDocument', docFields(s, { category_srl: '9999' }));
    expect(made.answer).toMatchObject({ error: 0, category_srl: 0 });
    expect(s.document(made.answer['document_srl'] as number)?.categorySrl).toBe(0);
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

  it("refuses an unknown document_srl on insert (-1) and another member's document (-2) as 권한이 없습니다", async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    const unknown = await c.post('procBoardInsertDocument', docFields(s, { document_srl: '9999' }));
    expect(unknown.answer).toEqual({ error: -1, message: '권한이 없습니다.' });
    const theirs = s.addDocument({ member: OTHER_MEMBER, title: '남의 글' });
    const edit = await c.post(
      'procBoardInsertDocument',
      docFields(s, { document_srl: String(theirs.documentSrl) }),
    );
    expect(edit.answer).toEqual({ error: -2, message: '권한이 없습니다.' });
    const del = await c.post('procBoardDeleteDocument', { mid: 'isw', document_srl: '9999' });
    expect(del.answer).toEqual({ error: -2, message: '대상을 찾을 수 없습니다.' });
    const delTheirs = await c.post('procBoardDeleteDocument', {
      mid: 'isw',
      document_srl: String(theirs.documentSrl),
    });
    expect(delTheirs.answer).toEqual({ error: -2, message: '권한이 없습니다.' });
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
    const found = honoured.answer['document_list'] as { title: string; tags: string }[];
    expect(found.map((d) => d.title)).toEqual(['하나']);
    expect(found[0]?.tags).toBe('isw-ko-m1');
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
      expect(answer).toEqual({
        errorDetail: 'ERR_UNSAFE_VAR',
        error: -1,
        message: '보안정책상 허용되지 않습니다.',
      });
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

  it('captcha, permission, size limit and edit lock refuse the post as Rhymix does; the write page shows a captcha or no form', async () => {
    const s = await start();
    const c = new RawClient(s.url);
    await c.login();
    expect((await c.get('mid=isw&act=dispBoardWrite')).html).toContain('name="title"');
    s.captcha = true;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer.error).toBe(-1);
    expect((await c.get('mid=isw&act=dispBoardWrite')).html).toContain('g-recaptcha');
    s.captcha = false;
    s.writePermission = false;
    expect((await c.post('procBoardInsertDocument', docFields(s))).answer).toEqual({
      error: -1,
      message: '관리자만 사용할 수 있는 기능입니다.',
    });
    const denied = await c.get('mid=isw&act=dispBoardWrite');
    expect(denied.status).toBe(403);
    expect(denied.html).not.toContain('<form');
    s.writePermission = true;
    expect((await c.post('procBoardInsertDocument', docFields(s, { content: '<p> </p>' }))).answer).toEqual({
      error: -2,
      message: '내용이 없습니다.',
    });
    s.documentLengthLimitKb = 1;
    const big = docFields(s, { content: `<p>${'가'.repeat(400)}</p>` });
    expect((await c.post('procBoardInsertDocument', big)).answer).toEqual({
      error: -2,
      message: '내용이 너무 깁니다.',
    });
    expect(s.documents()).toHaveLength(0);
    s.documentLengthLimitKb = null;
    const made = await c.post('procBoardInsertDocument', docFields(s));
    const srl = made.answer['document_srl'] as number;
    s.editLocked.add(srl);
    const locked = await c.post('procBoardInsertDocument', docFields(s, { document_srl: String(srl) }));
    expect(locked.answer).toEqual({ error: -2, message: '댓글이 1개 이상 달린 글은 수정할 수 없습니다.' });
    expect(s.document(srl)?.revision).toBe(1);
  });

  it('answers 503 to everything while unavailable', async () => {
    const s = await start();
    s.unavailable = true;
    const res = await fetch(`${s.url}/index.php?mid=isw`);
    expect(res.status).toBe(503);
  });
});
