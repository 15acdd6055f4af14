// Test support: an in-process Rhymix 2.1 / XE 1.x board speaking the protocol of ../shared/RHYMIX.md
// on a loopback port, with switches for the board's refusals and its documents open for assertions.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A member account on the test board. */
export interface TestMember {
  readonly memberSrl: number;
  readonly userId: string;
  readonly password: string;
  readonly nickName: string;
}

/** The bot's account (a plain member, not a manager: its HTML is filtered, categories are required). */
export const BOT_MEMBER: TestMember = {
  memberSrl: 4,
  userId: 'iswbot',
  password: 'bot-password-1',
  nickName: 'ISW봇',
};
/** Somebody else on the same board. */
export const OTHER_MEMBER: TestMember = {
  memberSrl: 5,
  userId: 'reader',
  password: 'reader-password-1',
  nickName: '독자',
};

export interface RhymixServerOptions {
  /** `xe`: no CSRF token, Referer host check only, `xe_logged` cookie, no ERR_UNSAFE_VAR. */
  readonly flavor?: 'rhymix' | 'xe';
  readonly mid?: string;
  readonly members?: readonly TestMember[];
  /** Category titles of the board; `[]` for a board without categories. */
  readonly categories?: readonly string[];
  /** PHPSESSID is regenerated when a session is older than this (Rhymix: 300 s). */
  readonly sessionRotateMs?: number;
  /** The spam filter's window (Rhymix: 10 s). */
  readonly spamWindowMs?: number;
  /** The board's clock for the spam filter and session age (tests step it); default `Date.now`. */
  readonly now?: () => number;
}

/** A document as the board stores it. */
export interface TestDocument {
  readonly documentSrl: number;
  readonly mid: string;
  readonly memberSrl: number;
  categorySrl: number;
  /** As stored: HTML-escaped like Rhymix's `escape($title, false)`. */
  title: string;
  /** After the board's HTML filter. */
  content: string;
  tags: string[];
  commentStatus: 'ALLOW' | 'DENY';
  extraVars: Record<number, string>;
  /** 1 when created, +1 per edit. */
  revision: number;
  readonly regdate: string;
  lastUpdate: string;
}

/** One request the board received, for assertions (the password is never kept). */
export interface RecordedRequest {
  readonly method: string;
  /** The action; `page` for GETs of the board page, `dispBoardWrite` for the write page. */
  readonly act: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly ip: string;
  readonly sessionId: string;
  /** The board's `error` (0 for pages). */
  error: number;
  errorDetail: string | null;
  /** Wall-clock arrival time (real `Date.now()`, not the board clock), to measure spacing. */
  readonly at: number;
}

interface Session {
  id: string;
  readonly token: string;
  memberSrl: number | null;
  rotatedAt: number;
  /** Rhymix regenerates the id on the first GET after login. */
  rotateOnNextGet: boolean;
}

type Answer = Record<string, unknown> & { error: number; message: string };

const OK_MESSAGE = 'success';
/** Rhymix's msg_alert_registered_denied_ip (ko). */
const DENIED_IP_MESSAGE = 'IP가 차단되었습니다. 사이트 관리자에게 문의 바랍니다.';
const PAGE_SIZE = 20;

/**
 * A faithful stand-in for a Rhymix 2.1 (or XE 1.x) board, from RHYMIX.md:
 * - RPC `POST /index.php` with `act`; JSON answers only to requests with the JSON hints
 *   (`Content-Type: application/json` with a URL-encoded body, or `Accept: application/json`);
 *   a plain form POST gets a 302 with the message lost, as in Rhymix;
 * - HTTP 200 on every refusal, the reason in `error` (-1/-2) and, for CSRF and unsafe values
 *   only, `errorDetail`; messages are Korean;
 * - CSRF: Rhymix wants `X-CSRF-Token` (the page's meta token, kept in the session, surviving
 *   login and rotation) and an internal Origin or Referer; XE 1.x only a Referer on this host;
 * - PHPSESSID regenerated on the first GET after login and when older than `sessionRotateMs`,
 *   the old id dead at once (a client that ignores Set-Cookie loses its session);
 * - categories required for non-managers; edits replace every field (left out = reset);
 *   `search_option[<target>]=1` needed or the search is silently ignored; titles stored
 *   HTML-escaped; `class`/`on*` removed from a member's HTML; `<?`, `<%`, `<script` refused
 *   with `ERR_UNSAFE_VAR`; an unknown document_srl on insert refused as "권한이 없습니다";
 * - switches: spam filter (one new post per window per IP, IP banned on the try after 3 logged
 *   in the window), captcha, write permission, size limit, edit lock, session loss, 503s.
 */
export class RhymixTestServer {
  readonly flavor: 'rhymix' | 'xe';
  readonly mid: string;
  readonly members: readonly TestMember[];
  readonly sessionRotateMs: number;
  readonly spamWindowMs: number;
  /** Every request, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** IPs the spam filter banned. */
  readonly bannedIps = new Set<string>();

  // ---- switches ----
  /** The spam filter is on. */
  spamFilter = false;
  /** New documents and edits need a captcha (which a bot never has). */
  captcha = false;
  /** Members may write on the board. */
  writePermission = true;
  /** The board's `document_length_limit`, KB; null for none. */
  documentLengthLimitKb: number | null = null;
  /** Every CSRF check fails (a site whose default URL does not match how we reach it). */
  failCsrf = false;
  /** Every request answers 503 (the site is down). */
  unavailable = false;
  /** Documents that may no longer be edited (the board locks them after comments or days). */
  readonly editLocked = new Set<number>();

  private server: Server | null = null;
  private baseUrl = '';
  private readonly now: () => number;
  private seq = 70;
  private readonly sessions = new Map<string, Session>();
  private readonly docs = new Map<number, TestDocument>();
  private readonly categories = new Map<number, string>();
  private readonly spamLog = new Map<string, number[]>();

  private constructor(options: RhymixServerOptions) {
    this.flavor = options.flavor ?? 'rhymix';
    this.mid = options.mid ?? 'isw';
    this.members = options.members ?? [BOT_MEMBER, OTHER_MEMBER];
    this.sessionRotateMs = options.sessionRotateMs ?? 300_000;
    this.spamWindowMs = options.spamWindowMs ?? 10_000;
    this.now = options.now ?? Date.now;
    for (const title of options.categories ?? ['우크라이나', '중동', '동아시아']) {
      this.categories.set(this.nextSrl(), title);
    }
  }

  /** Start on 127.0.0.1 at a free port. */
  static async start(options: RhymixServerOptions = {}): Promise<RhymixTestServer> {
    const board = new RhymixTestServer(options);
    const server = createServer((req, res) => {
      board.handle(req, res).catch((err: unknown) => {
        // A bug in the test server must fail the test loudly, not hang the client.
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    board.server = server;
    board.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return board;
  }

  /** The site root, e.g. `http://127.0.0.1:40123`. */
  get url(): string {
    return this.baseUrl;
  }

  /** Stop listening; safe to call twice. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  // ---- inspection and admin actions ----

  /** Every document, by document_srl. */
  documents(): TestDocument[] {
    return [...this.docs.values()].sort((a, b) => a.documentSrl - b.documentSrl);
  }

  document(documentSrl: number): TestDocument | undefined {
    return this.docs.get(documentSrl);
  }

  /** The board's categories. */
  categoryList(): { categorySrl: number; title: string }[] {
    return [...this.categories].map(([categorySrl, title]) => ({ categorySrl, title }));
  }

  /** The srl of a category by title; throws when there is none (a test bug). */
  categorySrl(title: string): number {
    const found = this.categoryList().find((c) => c.title === title);
    if (found === undefined) throw new Error(`no category "${title}"`);
    return found.categorySrl;
  }

  /** An admin removes a category. */
  removeCategory(title: string): void {
    this.categories.delete(this.categorySrl(title));
  }

  /** An admin deletes a document. */
  deleteDocument(documentSrl: number): void {
    this.docs.delete(documentSrl);
  }

  /** Somebody else posts (bypassing every check), e.g. to fill the list; `mid`: on another board. */
  addDocument(input: {
    member?: TestMember;
    mid?: string;
    title: string;
    tags?: string[];
    content?: string;
  }): TestDocument {
    const member = input.member ?? OTHER_MEMBER;
    const now = regdate();
    const first = this.categoryList()[0];
    const doc: TestDocument = {
      documentSrl: this.nextSrl(),
      mid: input.mid ?? this.mid,
      memberSrl: member.memberSrl,
      categorySrl: first?.categorySrl ?? 0,
      title: escapeTitle(input.title),
      content: input.content ?? '<p>본문</p>',
      tags: input.tags ?? [],
      commentStatus: 'ALLOW',
      extraVars: {},
      revision: 1,
      regdate: now,
      lastUpdate: now,
    };
    this.docs.set(doc.documentSrl, doc);
    return doc;
  }

  /** Every session is logged out but kept (a password change, a limited member): "로그인이 필요합니다". */
  logOutEveryone(): void {
    for (const session of this.sessions.values()) session.memberSrl = null;
  }

  /** Every session is gone (garbage-collected): old cookies and CSRF tokens point at nothing. */
  destroySessions(): void {
    this.sessions.clear();
  }

  /** The write attempts (procBoardInsertDocument) received, oldest first. */
  writeRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.act === 'procBoardInsertDocument');
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = await readBody(req);
    if (this.unavailable) {
      res.writeHead(503, { 'Content-Type': 'text/html' });
      res.end('<h1>Service Unavailable</h1>');
      return;
    }
    if (url.pathname !== '/' && url.pathname !== '/index.php') {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<h1>Not Found</h1>');
      return;
    }
    const cookies: string[] = [];
    const session = this.sessionOf(req, cookies);
    const ip = req.socket.remoteAddress ?? '';
    if (req.method === 'GET') {
      this.rotate(session, cookies, true);
      this.page(url, req, res, session, cookies, ip);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405);
      res.end();
      return;
    }
    this.rotate(session, cookies, false);
    const contentType = req.headers['content-type'] ?? '';
    const accept = req.headers.accept ?? '';
    const fields = parseFields(body, contentType);
    const act = fields['act'] ?? url.searchParams.get('act') ?? '';
    const record: RecordedRequest = {
      method: 'POST',
      act,
      fields: redact(fields),
      headers: {
        origin: req.headers.origin,
        referer: req.headers.referer,
        'x-csrf-token': header(req, 'x-csrf-token'),
        'content-type': contentType,
        accept,
        cookie: req.headers.cookie,
      },
      ip,
      sessionId: session.id,
      error: 0,
      errorDetail: null,
      at: Date.now(),
    };
    this.requests.push(record);
    const answer = this.dispatch(act, fields, req, session, cookies, ip);
    record.error = answer.error;
    record.errorDetail = typeof answer['errorDetail'] === 'string' ? answer['errorDetail'] : null;
    const json = contentType.includes('application/json') || accept.includes('application/json');
    if (!json) {
      // Rhymix's plain-form mode: the message goes into the session and the browser is redirected.
      res.writeHead(302, { Location: req.headers.referer ?? '/', 'Set-Cookie': cookies });
      res.end();
      return;
    }
    // HTTP 200 whatever the outcome: the answer's `error` says how it went (RHYMIX.md).
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8', 'Set-Cookie': cookies });
    res.end(JSON.stringify(answer));
  }

  private sessionOf(req: IncomingMessage, cookies: string[]): Session {
    const sid = parseCookies(req.headers.cookie ?? '')['PHPSESSID'];
    const existing = sid === undefined ? undefined : this.sessions.get(sid);
    if (existing !== undefined) return existing;
    // PHP (strict mode) starts a fresh session under a new id for an unknown one.
    const session: Session = {
      id: randomBytes(13).toString('hex'),
      token: randomBytes(8).toString('hex'),
      memberSrl: null,
      rotatedAt: this.now(),
      rotateOnNextGet: false,
    };
    this.sessions.set(session.id, session);
    cookies.push(`PHPSESSID=${session.id}; path=/; HttpOnly`);
    return session;
  }

  /** session_regenerate_id(true): same data, new id, old id dead. */
  private rotate(session: Session, cookies: string[], isGet: boolean): void {
    if (this.flavor !== 'rhymix') return;
    const due = session.memberSrl !== null && this.now() - session.rotatedAt >= this.sessionRotateMs;
    if (!due && !(isGet && session.rotateOnNextGet)) return;
    this.sessions.delete(session.id);
    session.id = randomBytes(13).toString('hex');
    session.rotatedAt = this.now();
    session.rotateOnNextGet = false;
    this.sessions.set(session.id, session);
    cookies.push(`PHPSESSID=${session.id}; path=/; HttpOnly`);
  }

  private page(
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    session: Session,
    cookies: string[],
    ip: string,
  ): void {
    const act = url.searchParams.get('act') ?? '';
    const mid = url.searchParams.get('mid') ?? this.mid;
    this.requests.push({
      method: 'GET',
      act: act === '' ? 'page' : act,
      fields: Object.fromEntries(url.searchParams),
      headers: { referer: req.headers.referer, cookie: req.headers.cookie },
      ip,
      sessionId: session.id,
      error: 0,
      errorDetail: null,
      at: Date.now(),
    });
    const send = (status: number, inner: string): void => {
      const meta = this.flavor === 'rhymix' ? `<meta name="csrf-token" content="${session.token}" />` : '';
      res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'Set-Cookie': cookies });
      res.end(
        `<!DOCTYPE html><html lang="ko"><head><meta charset="UTF-8" />${meta}<title>테스트 게시판</title></head><body>${inner}</body></html>`,
      );
    };
    if (mid !== this.mid) {
      send(404, '<p class="message">요청하신 페이지를 찾을 수 없습니다.</p>');
      return;
    }
    if (act === 'dispBoardWrite') {
      const member = this.memberOf(session);
      const srlParam = url.searchParams.get('document_srl');
      const doc = srlParam === null ? undefined : this.docs.get(Number(srlParam));
      if (member === null) {
        send(403, '<p class="message">로그인이 필요합니다.</p>');
        return;
      }
      if (!this.writePermission) {
        send(403, '<p class="message">권한이 없습니다.</p>');
        return;
      }
      if (doc !== undefined && (doc.memberSrl !== member.memberSrl || this.editLocked.has(doc.documentSrl))) {
        send(403, '<p class="message">권한이 없습니다.</p>');
        return;
      }
      const actInput =
        this.flavor === 'rhymix' ? '<input type="hidden" name="act" value="procBoardInsertDocument" />' : '';
      const captcha = this.captcha
        ? '<div class="g-recaptcha" data-sitekey="6Lc-test"></div><script src="https://www.google.com/recaptcha/api.js"></script>'
        : '';
      send(
        200,
        `<form action="./" method="post">${actInput}<input type="hidden" name="mid" value="${this.mid}" />` +
          `<input type="text" name="title" value="" /><textarea name="content"></textarea>${captcha}` +
          '<button type="submit">등록</button></form>',
      );
      return;
    }
    const items = this.documents()
      .reverse()
      .map(
        (d) =>
          `<li><a href="/index.php?mid=${this.mid}&amp;document_srl=${d.documentSrl}">${d.title}</a></li>`,
      )
      .join('');
    send(200, `<h1>${this.mid}</h1><ul>${items}</ul>`);
  }

  // ---- actions ----

  private dispatch(
    act: string,
    fields: Record<string, string>,
    req: IncomingMessage,
    session: Session,
    cookies: string[],
    ip: string,
  ): Answer {
    // Rhymix checks every request value before any action runs (Context::_recursiveCheckVar):
    // `<?` and `<%` from anyone, `<script` from anyone but an admin (none of our members is).
    if (this.flavor === 'rhymix') {
      for (const value of Object.values(fields)) {
        if (/<\?|<%|<\s*script/i.test(value)) {
          return {
            error: -1,
            message: '허용되지 않는 값이 포함되어 있습니다.',
            errorDetail: 'ERR_UNSAFE_VAR',
          };
        }
      }
    }
    if (!this.csrfOk(req, session, fields)) {
      return this.flavor === 'rhymix'
        ? { error: -1, message: '잘못된 요청입니다.', errorDetail: 'ERR_CSRF_CHECK_FAILED' }
        : { error: -1, message: '잘못된 요청입니다.' };
    }
    switch (act) {
      case 'procMemberLogin':
        return this.login(fields, session, cookies);
      case 'procBoardInsertDocument':
        return this.insert(fields, session, ip);
      case 'procBoardDeleteDocument':
        return this.remove(fields, session);
      case 'dispBoardContentList':
        return this.list(fields);
      case 'dispBoardContentView':
        return this.view(fields);
      case 'dispBoardCategoryList':
        return this.categoryAnswer(fields);
      default:
        return { error: -1, message: '잘못된 요청입니다.' };
    }
  }

  private csrfOk(req: IncomingMessage, session: Session, fields: Record<string, string>): boolean {
    if (this.failCsrf) return false;
    const host = new URL(this.baseUrl).host;
    const sameHost = (value: string | undefined): boolean =>
      value !== undefined && URL.canParse(value) && new URL(value).host === host;
    if (this.flavor === 'xe') return sameHost(req.headers.referer);
    const token = header(req, 'x-csrf-token') ?? fields['_rx_csrf_token'];
    if (token !== session.token) return false;
    return sameHost(req.headers.origin) || sameHost(req.headers.referer);
  }

  private login(fields: Record<string, string>, session: Session, cookies: string[]): Answer {
    const member = this.members.find(
      (m) => m.userId === fields['user_id'] && m.password === fields['password'],
    );
    if (member === undefined) {
      return { error: -1, message: '아이디 또는 비밀번호가 일치하지 않습니다.' };
    }
    session.memberSrl = member.memberSrl;
    if (this.flavor === 'rhymix') {
      session.rotateOnNextGet = true;
      cookies.push(`rx_login_status=${randomBytes(8).toString('hex')}; path=/`);
    } else {
      cookies.push('xe_logged=true; path=/');
    }
    return { redirect_url: '/index', error: 0, message: OK_MESSAGE };
  }

  private insert(fields: Record<string, string>, session: Session, ip: string): Answer {
    if (fields['mid'] !== this.mid) return { error: -1, message: '잘못된 요청입니다.' };
    const member = this.memberOf(session);
    if (member === null) return { error: -1, message: '로그인이 필요합니다.' };
    if (this.bannedIps.has(ip)) return { error: -1, message: DENIED_IP_MESSAGE };
    if (!this.writePermission) return { error: -2, message: '권한이 없습니다.' };
    const srlField = fields['document_srl'];
    const editing = srlField !== undefined && srlField !== '' && srlField !== '0';
    const existing = editing ? this.docs.get(Number(srlField)) : undefined;
    if (editing) {
      // You cannot choose a new document's number: an unknown document_srl is refused.
      if (existing === undefined || existing.memberSrl !== member.memberSrl) {
        return { error: -2, message: '권한이 없습니다.' };
      }
      if (this.editLocked.has(existing.documentSrl)) {
        return { error: -1, message: '댓글이 달린 글은 수정할 수 없습니다.' };
      }
    }
    if (this.captcha) return { error: -1, message: '자동 입력 방지 확인이 필요합니다.' };
    const categorySrl = Number(fields['category_srl'] ?? '0');
    if (this.categories.size > 0 && !this.categories.has(categorySrl)) {
      return { error: -1, message: '분류 값은 필수입니다.' };
    }
    if (this.spamFilter) {
      const refusal = this.spamCheck(ip, !editing);
      if (refusal !== null) return refusal;
    }
    const title = (fields['title'] ?? '').trim();
    if (title === '') return { error: -1, message: '제목을 입력해 주세요.' };
    const content = fields['content'] ?? '';
    if (
      this.documentLengthLimitKb !== null &&
      Buffer.byteLength(content) > this.documentLengthLimitKb * 1024
    ) {
      return { error: -1, message: `글 내용이 너무 깁니다. (최대 ${this.documentLengthLimitKb}KB)` };
    }
    const now = regdate();
    // An edit replaces the whole document: whatever the request leaves out is reset.
    const stored = {
      categorySrl: this.categories.has(categorySrl) ? categorySrl : 0,
      title: escapeTitle(title),
      content: this.filterHtml(content),
      tags: normaliseTags(fields['tags'] ?? ''),
      commentStatus: fields['comment_status'] === 'ALLOW' ? ('ALLOW' as const) : ('DENY' as const),
      extraVars: extraVarsOf(fields),
    };
    let doc: TestDocument;
    if (existing !== undefined) {
      Object.assign(existing, stored, { revision: existing.revision + 1, lastUpdate: now });
      doc = existing;
    } else {
      doc = {
        documentSrl: this.nextSrl(),
        mid: this.mid,
        memberSrl: member.memberSrl,
        ...stored,
        revision: 1,
        regdate: now,
        lastUpdate: now,
      };
      this.docs.set(doc.documentSrl, doc);
    }
    return {
      mid: this.mid,
      document_srl: doc.documentSrl,
      category_srl: doc.categorySrl,
      redirect_url: `${this.baseUrl}/${this.mid}/${doc.documentSrl}`,
      error: 0,
      message: existing === undefined ? '등록했습니다.' : '수정했습니다.',
    };
  }

  /**
   * Rhymix's spam filter (spamfilter.controller.php triggerInsertDocument, checked against a real
   * 2.1.35): every write is logged, edits included; only a new document is checked — one that
   * finds 3 logged writes in the window bans the IP, one that finds fewer (but some) is refused
   * and logged too.
   */
  private spamCheck(ip: string, isNew: boolean): Answer | null {
    const now = this.now();
    const recent = (this.spamLog.get(ip) ?? []).filter((t) => now - t < this.spamWindowMs);
    this.spamLog.set(ip, recent);
    if (isNew && recent.length >= 3) {
      this.bannedIps.add(ip);
      return { error: -1, message: DENIED_IP_MESSAGE };
    }
    recent.push(now);
    if (isNew && recent.length > 1) {
      return {
        error: -1,
        message: `${Math.round(this.spamWindowMs / 1000)}초 이내에 연속 글 작성은 금지됩니다. 계속 시도하면 IP가 차단될 수 있습니다.`,
      };
    }
    return null;
  }

  private remove(fields: Record<string, string>, session: Session): Answer {
    const member = this.memberOf(session);
    if (member === null) return { error: -1, message: '로그인이 필요합니다.' };
    const doc = this.docs.get(Number(fields['document_srl'] ?? '0'));
    if (doc === undefined || doc.mid !== fields['mid'])
      return { error: -2, message: '대상을 찾을 수 없습니다.' };
    if (doc.memberSrl !== member.memberSrl) return { error: -2, message: '권한이 없습니다.' };
    this.docs.delete(doc.documentSrl);
    return { mid: this.mid, document_srl: doc.documentSrl, error: 0, message: '삭제했습니다.' };
  }

  private list(fields: Record<string, string>): Answer {
    if (fields['mid'] !== this.mid) return { error: -1, message: '잘못된 요청입니다.' };
    let docs = this.documents()
      .filter((d) => d.mid === this.mid)
      .reverse();
    const target = fields['search_target'] ?? '';
    const keyword = (fields['search_keyword'] ?? '').trim();
    // The quirk: without search_option[<target>]=1 the search is silently ignored.
    if (target !== '' && keyword !== '' && fields[`search_option[${target}]`] === '1') {
      const k = keyword.toLowerCase();
      if (target === 'tag') docs = docs.filter((d) => d.tags.some((t) => t.toLowerCase() === k));
      else if (target === 'title') docs = docs.filter((d) => decodeTitle(d.title).toLowerCase().includes(k));
      else if (/^extra_vars\d+$/.test(target)) {
        const n = Number(target.slice('extra_vars'.length));
        docs = docs.filter((d) => (d.extraVars[n] ?? '').toLowerCase().includes(k));
      } else docs = [];
    }
    const category = Number(fields['category'] ?? '0');
    if (category > 0) docs = docs.filter((d) => d.categorySrl === category);
    const page = Math.max(1, Number(fields['page'] ?? '1') || 1);
    const total = docs.length;
    return {
      error: 0,
      message: OK_MESSAGE,
      document_list: docs.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).map((d) => this.arrange(d)),
      page_navigation: {
        total_count: total,
        total_page: Math.max(1, Math.ceil(total / PAGE_SIZE)),
        cur_page: page,
      },
    };
  }

  /**
   * As a real Rhymix 2.1.35 answers: a missing document is `error: 0` without `oDocument`, and a
   * document of another board is shown under any mid, without saying which board it is on.
   */
  private view(fields: Record<string, string>): Answer {
    const doc = this.docs.get(Number(fields['document_srl'] ?? '0'));
    if (doc === undefined) return { error: 0, message: OK_MESSAGE };
    return { error: 0, message: OK_MESSAGE, oDocument: this.arrange(doc) };
  }

  private categoryAnswer(fields: Record<string, string>): Answer {
    if (fields['mid'] !== this.mid) return { error: -1, message: '잘못된 요청입니다.' };
    // A PHP associative array keyed by category_srl: a JSON object, not a list.
    const list: Record<string, unknown> = {};
    for (const [srl, title] of this.categories) {
      list[String(srl)] = { category_srl: srl, parent_srl: 0, title: escapeTitle(title), depth: 0 };
    }
    return { error: 0, message: OK_MESSAGE, category_list: list };
  }

  /** The board API's view of a document (board.api.php arrangeContent). */
  private arrange(doc: TestDocument): Record<string, unknown> {
    const member = this.members.find((m) => m.memberSrl === doc.memberSrl);
    return {
      document_srl: doc.documentSrl,
      category_srl: doc.categorySrl,
      member_srl: doc.memberSrl,
      nick_name: member?.nickName ?? '',
      title: doc.title,
      content: doc.content,
      tags: doc.tags,
      comment_count: 0,
      regdate: doc.regdate,
      last_update: doc.lastUpdate,
      extra_vars: Object.values(doc.extraVars),
      status: 'PUBLIC',
    };
  }

  /** A member's HTML after the board's filter: `class` and `on*` removed (XE also drops scripts). */
  private filterHtml(html: string): string {
    let out = html.replace(/<([a-z][a-z0-9]*)\b([^>]*)>/gi, (_m, tag: string, attrs: string) => {
      const kept = attrs.replace(/\s+(?:class|on[a-z]+)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)/gi, '');
      return `<${tag}${kept}>`;
    });
    if (this.flavor === 'xe')
      out = out.replace(/<script\b[\s\S]*?<\/script>/gi, '').replace(/<\?[\s\S]*?\?>/g, '');
    return out;
  }

  private memberOf(session: Session): TestMember | null {
    return this.members.find((m) => m.memberSrl === session.memberSrl) ?? null;
  }

  // Rhymix numbers modules, categories and documents from one sequence.
  private nextSrl(): number {
    this.seq += 1;
    return this.seq;
  }
}

/** A stored title as plain text (the test's own decoding, independent of the adapter's). */
export function decodeTitle(stored: string): string {
  return stored
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** PHP htmlspecialchars(ENT_QUOTES, double_encode=false), as Rhymix applies to titles. */
function escapeTitle(title: string): string {
  return title
    .replace(/&(?!(?:[a-z]+|#\d+|#x[0-9a-f]+);)/gi, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#039;');
}

function normaliseTags(raw: string): string[] {
  const out: string[] = [];
  for (const tag of raw.split(',')) {
    const t = tag.trim();
    if (t !== '' && !out.some((o) => o.toLowerCase() === t.toLowerCase())) out.push(t);
  }
  return out;
}

function extraVarsOf(fields: Record<string, string>): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    const m = /^extra_vars(\d+)$/.exec(name);
    if (m?.[1] !== undefined && value !== '') out[Number(m[1])] = value;
  }
  return out;
}

function parseFields(body: string, contentType: string): Record<string, string> {
  const trimmed = body.trim();
  if (contentType.includes('application/json') && trimmed.startsWith('{')) {
    // Rhymix takes real JSON too; flatten it to strings like PHP's request vars.
    const parsed = JSON.parse(trimmed) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function redact(fields: Record<string, string>): Record<string, string> {
  return 'password' in fields ? { ...fields, password: '(redacted)' } : fields;
}

function regdate(): string {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
