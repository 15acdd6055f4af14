// Test support: an in-process Rhymix 2.1 / XE 1.x board speaking the protocol of ../shared/RHYMIX.md
// on a loopback port, with switches for the board's refusals and its documents open for assertions.
import { createHash, randomBytes } from 'node:crypto';
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
  /**
   * The board's extra variables (`extra_vars1`… in this order); only these are stored. Default:
   * one, "원문" of type `homepage`, like the board we checked against.
   */
  readonly extraKeys?: readonly BoardExtraKey[];
  /**
   * The admin's "CSRF 토큰 사용" (security.check_csrf_token); off by default, as in Rhymix. See
   * {@link RhymixTestServer.strictCsrfToken}.
   */
  readonly strictCsrfToken?: boolean;
  /**
   * PHPSESSID is regenerated on the first GET once a session is older than this (Rhymix's
   * session.refresh: 300 s); 0 here means on every GET (Rhymix would take 0 as "never").
   */
  readonly sessionRotateMs?: number;
  /** The spam filter's window (Rhymix: 10 s). */
  readonly spamWindowMs?: number;
  /** The board's clock for the spam filter and session age (tests step it); default `Date.now`. */
  readonly now?: () => number;
}

/** One of the board's extra variables (an admin defines them per board). */
export interface BoardExtraKey {
  readonly name: string;
  readonly type: string;
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
  /** As Rhymix's tag module leaves them; answers give them joined with ", ". */
  tags: string[];
  commentStatus: 'ALLOW' | 'DENY';
  /** The board's extra variables by index (only those the board defines, only when not empty). */
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
  /** Rhymix regenerates the id on the first GET after login (its `next_refresh`). */
  rotateOnNextGet: boolean;
}

type Answer = Record<string, unknown> & { error: number; message: string };

const OK_MESSAGE = 'success';
/** Rhymix's msg_alert_registered_denied_ip (ko). */
/** Rhymix's spam filter texts (modules/spamfilter/lang) in the languages the adapter reads. */
const SPAM_TEXTS = {
  ko: {
    denied: 'IP가 차단되었습니다. 사이트 관리자에게 문의 바랍니다.',
    limited: (s: number) => `${s}초 이내에 연속 글 작성은 금지됩니다. 계속 시도하면 IP가 차단될 수 있습니다.`,
  },
  en: {
    denied: 'Your IP address has been blocked for abuse. Please contact the administrator.',
    limited: (s: number) =>
      `Please do not post repeatedly within ${s} seconds. If you keep trying, your IP address will be blocked.`,
  },
  ja: {
    denied: '禁止IPに登録され、サイト内で正常な活動が制限されています。管理者にお問い合わせください。',
    limited: (s: number) =>
      `${s}秒以内の書き込みは禁止されます。続けて行うとスパムとして認識され、禁止IPに登録されます。`,
  },
} as const;
/** Rhymix's msg_security_violation: CSRF and unsafe request values. */
const SECURITY_MESSAGE = '보안정책상 허용되지 않습니다.';
const INVALID_REQUEST = '잘못된 요청입니다.';
/** Rhymix's msg_not_permitted. */
const NOT_PERMITTED = '권한이 없습니다.';
/** Rhymix's msg_not_logged: the permission check's answer to a guest. */
const NOT_LOGGED = '로그인이 필요합니다.';
/** Rhymix's msg_administrator_only: the permission check's answer when only managers may write. */
const ADMIN_ONLY = '관리자만 사용할 수 있는 기능입니다.';
/** Rhymix's msg_module_is_not_exists (ERR_MODULE_NOT_FOUND): an action on a mid the site has not. */
const NO_MODULE = '요청한 페이지를 찾을 수 없습니다. 사이트 관리자에게 문의해 주세요.';
/** `documents.extra_vars` of every board post: the list shows that column as stored. */
const EMPTY_EXTRA_VARS = 'O:8:"stdClass":0:{}';
const PAGE_SIZE = 20;
/** Page links in page_navigation (XE's PageHandler default). */
const PAGE_LINKS = 10;

/**
 * A faithful stand-in for a Rhymix 2.1 (or XE 1.x) board, from RHYMIX.md and checked against a real
 * Rhymix 2.1.35 (its answers, codes and messages are the real ones):
 * - RPC `POST /index.php` with `act`; JSON answers only to requests with the JSON hints
 *   (`Content-Type: application/json` with a URL-encoded body, or `Accept: application/json`);
 *   a plain form POST gets a 302 to the answer's `redirect_url` (the new post, for a write) when it
 *   succeeds and a 403 HTML message page when it is refused;
 * - HTTP 200 on every refusal, the reason in `error` (-1/-2) and, for CSRF, unsafe values and
 *   unknown mids only, `errorDetail`; messages are Korean;
 * - CSRF: by default Rhymix checks only where a POST comes from (`Sec-Fetch-Site`, else Origin,
 *   else Referer, which must be this site); with {@link strictCsrfToken} a logged-in member must
 *   also send `X-CSRF-Token` (the page's meta token, kept in the session, surviving login and
 *   rotation), and a token sent is checked alone. XE 1.x checks only a Referer on this host;
 * - PHPSESSID (any session, guest or member) regenerated on the first GET after login and on the
 *   first GET once older than `sessionRotateMs`, never on a POST; the old id dead at once (a client
 *   that ignores Set-Cookie loses its session). Cookies `SameSite=Lax`, `rx_login_status` (`none`
 *   for guests) and `rx_uatype` as Rhymix sends them;
 * - the write checks in Rhymix's order: permission (guests: "로그인이 필요합니다" unless guests may
 *   write), captcha, size, a category for non-managers, the author on edits, the edit lock, the spam
 *   filter, an unknown document_srl; a category the board has not is silently dropped (category 0);
 *   edits replace every field (left out = reset); `search_option[<target>]=1` needed or the search
 *   is silently ignored; titles stored HTML-escaped (existing entities kept); `class`/`on*` removed
 *   from a member's HTML; `<?`, `<%`, `<script` refused with `ERR_UNSAFE_VAR`;
 * - answers shaped like Rhymix's: categories a JSON array (srls as strings, `null` for none), tags a
 *   ", "-joined string, extra_vars the stored column in lists and the board's variables in a view;
 * - switches: spam filter (one new post per window per IP, IP banned on the try after 3 logged
 *   in the window), captcha, write permission, guest writing, size limit, edit lock, session loss,
 *   strict CSRF tokens, 503s.
 */
export class RhymixTestServer {
  readonly flavor: 'rhymix' | 'xe';
  readonly mid: string;
  readonly members: readonly TestMember[];
  readonly sessionRotateMs: number;
  readonly spamWindowMs: number;
  /** The board's extra variables, `extra_vars1` first. */
  readonly extraKeys: readonly BoardExtraKey[];
  /** The board's own module_srl (Rhymix numbers modules, categories and documents from one sequence). */
  readonly moduleSrl: number;
  /** Every request, oldest first. */
  readonly requests: RecordedRequest[] = [];
  /** IPs the spam filter banned. */
  readonly bannedIps = new Set<string>();

  // ---- switches ----
  /** The spam filter is on. */
  spamFilter = false;
  /** The site language of the spam filter's messages (Rhymix: the visitor's, default ko). */
  spamLanguage: keyof typeof SPAM_TEXTS = 'ko';
  /** New documents and edits need a captcha (which a bot never has). */
  captcha = false;
  /** Members may write on the board; false: only managers may ("관리자만 사용할 수 있는 기능입니다"). */
  writePermission = true;
  /**
   * Guests may write (a new board's default in Rhymix). A guest's write then passes the permission
   * check and is refused late, for want of a name, as "잘못된 요청입니다"; with false the permission
   * check refuses it as "로그인이 필요합니다".
   */
  guestsMayWrite = true;
  /**
   * The admin turned on "CSRF 토큰 사용": a logged-in member's POST without `X-CSRF-Token` fails,
   * and a token sent must be the session's (Origin is then not looked at). Off: only where the POST
   * comes from is checked, the token ignored.
   */
  strictCsrfToken: boolean;
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
  /** Seeds the per-member rx_login_status values. */
  private readonly loginSecret = randomBytes(8).toString('hex');

  private constructor(options: RhymixServerOptions) {
    this.flavor = options.flavor ?? 'rhymix';
    this.mid = options.mid ?? 'isw';
    this.members = options.members ?? [BOT_MEMBER, OTHER_MEMBER];
    this.sessionRotateMs = options.sessionRotateMs ?? 300_000;
    this.spamWindowMs = options.spamWindowMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.strictCsrfToken = options.strictCsrfToken ?? false;
    this.extraKeys = options.extraKeys ?? [{ name: '원문', type: 'homepage' }];
    this.moduleSrl = this.nextSrl();
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
      this.rotate(session, cookies);
      this.statusCookies(req, session, cookies);
      this.page(url, req, res, session, cookies, ip);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405);
      res.end();
      return;
    }
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
        'sec-fetch-site': header(req, 'sec-fetch-site'),
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
    this.statusCookies(req, session, cookies);
    const json = contentType.includes('application/json') || accept.includes('application/json');
    if (!json) {
      // Rhymix's plain-form mode: a success goes to the answer's redirect_url (a new post: the
      // post), a refusal is shown as a message page.
      const redirect = answer['redirect_url'];
      if (answer.error === 0 && typeof redirect === 'string') {
        res.writeHead(302, { Location: redirect, 'Set-Cookie': cookies });
        res.end();
        return;
      }
      const status = answer.error === 0 ? 200 : 403;
      res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'Set-Cookie': cookies });
      res.end(this.html(session, `<p class="message">${escapeTitle(answer.message)}</p>`));
      return;
    }
    // HTTP 200 whatever the outcome: the answer's `error` says how it went (RHYMIX.md).
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8', 'Set-Cookie': cookies });
    res.end(JSON.stringify(answer));
  }

  /** Attributes of Rhymix's cookies (session.samesite / cookie.samesite: Lax); XE sends none. */
  private cookie(nameValue: string, httpOnly: boolean): string {
    const attrs = this.flavor === 'rhymix' ? '; SameSite=Lax' : '';
    return `${nameValue}; path=/${httpOnly ? '; HttpOnly' : ''}${attrs}`;
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
    cookies.push(this.cookie(`PHPSESSID=${session.id}`, true));
    return session;
  }

  /**
   * session_regenerate_id(true): same data, new id, old id dead. Rhymix (Session::start) does it
   * only on a GET: a POST that finds the session due leaves it to the next GET (`next_refresh`).
   * A session made by this very request is not due.
   */
  private rotate(session: Session, cookies: string[]): void {
    if (this.flavor !== 'rhymix' || cookies.length > 0) return;
    const due = this.now() - session.rotatedAt >= this.sessionRotateMs;
    if (!due && !session.rotateOnNextGet) return;
    this.sessions.delete(session.id);
    session.id = randomBytes(13).toString('hex');
    session.rotatedAt = this.now();
    session.rotateOnNextGet = false;
    this.sessions.set(session.id, session);
    cookies.push(this.cookie(`PHPSESSID=${session.id}`, true));
  }

  /**
   * Rhymix sends `rx_login_status` whenever the browser's differs from the session's (`none` for a
   * guest, a per-member value once logged in) and `rx_uatype` (its PC/mobile guess) when missing.
   */
  private statusCookies(req: IncomingMessage, session: Session, cookies: string[]): void {
    if (this.flavor !== 'rhymix') return;
    const sent = parseCookies(req.headers.cookie ?? '');
    const status = session.memberSrl === null ? 'none' : this.loginStatus(session.memberSrl);
    if (sent['rx_login_status'] !== status) cookies.push(this.cookie(`rx_login_status=${status}`, true));
    if (sent['rx_uatype'] === undefined) {
      cookies.push(this.cookie(`rx_uatype=${randomBytes(16).toString('base64url')}%3A0`, false));
    }
  }

  /** A member's rx_login_status: the same in every session of that member. */
  private loginStatus(memberSrl: number): string {
    return createHash('sha256').update(`${this.loginSecret}:${memberSrl}`).digest('base64url').slice(0, 24);
  }

  private html(session: Session, inner: string): string {
    const meta = this.flavor === 'rhymix' ? `<meta name="csrf-token" content="${session.token}" />` : '';
    return `<!DOCTYPE html><html lang="ko"><head><meta charset="UTF-8" />${meta}<title>테스트 게시판</title></head><body>${inner}</body></html>`;
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
      res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'Set-Cookie': cookies });
      res.end(this.html(session, inner));
    };
    if (mid !== this.mid) {
      send(404, '<p class="message">요청하신 페이지를 찾을 수 없습니다.</p>');
      return;
    }
    if (act === 'dispBoardWrite') {
      const member = this.memberOf(session);
      const srlParam = url.searchParams.get('document_srl');
      const doc = srlParam === null ? undefined : this.docs.get(Number(srlParam));
      const denied = this.permissionDenied(member);
      if (denied !== null) {
        send(403, `<p class="message">${denied.message}</p>`);
        return;
      }
      if (
        doc !== undefined &&
        (member === null || doc.memberSrl !== member.memberSrl || this.editLocked.has(doc.documentSrl))
      ) {
        send(403, `<p class="message">${NOT_PERMITTED}</p>`);
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
          return { errorDetail: 'ERR_UNSAFE_VAR', error: -1, message: SECURITY_MESSAGE };
        }
      }
    }
    if (!this.csrfOk(req, session, fields)) {
      return this.flavor === 'rhymix'
        ? { errorDetail: 'ERR_CSRF_CHECK_FAILED', error: -1, message: SECURITY_MESSAGE }
        : { error: -1, message: INVALID_REQUEST };
    }
    if (act === 'procMemberLogin') return this.login(fields, session, cookies);
    const boardAct = [
      'procBoardInsertDocument',
      'procBoardDeleteDocument',
      'dispBoardContentList',
      'dispBoardContentView',
      'dispBoardCategoryList',
    ].includes(act);
    if (!boardAct) return { error: -1, message: INVALID_REQUEST };
    // The module is looked up by mid before the action runs (the view alone is lenient: see view()).
    if (act !== 'dispBoardContentView' && fields['mid'] !== this.mid) {
      return this.flavor === 'rhymix'
        ? { errorDetail: 'ERR_MODULE_NOT_FOUND', error: -1, message: NO_MODULE }
        : { error: -1, message: INVALID_REQUEST };
    }
    switch (act) {
      case 'procBoardInsertDocument':
        return this.insert(fields, session, ip);
      case 'procBoardDeleteDocument':
        return this.remove(fields, session);
      case 'dispBoardContentList':
        return this.list(fields);
      case 'dispBoardContentView':
        return this.view(fields);
      default:
        return this.categoryAnswer();
    }
  }

  /**
   * Security::checkCSRF of Rhymix 2.1 (checked against a real 2.1.35 in both modes); XE 1.x checks
   * only that the Referer is on this host.
   */
  private csrfOk(req: IncomingMessage, session: Session, fields: Record<string, string>): boolean {
    if (this.failCsrf) return false;
    const host = new URL(this.baseUrl).host;
    const internal = (value: string): boolean => URL.canParse(value) && new URL(value).host === host;
    const present = (value: string | undefined): value is string =>
      value !== undefined && value !== '' && value !== 'null';
    const referer = header(req, 'referer');
    if (this.flavor === 'xe') return present(referer) && internal(referer);
    if (this.strictCsrfToken) {
      // A token sent decides alone; a member without one is refused; a guest without one falls
      // through to the origin checks.
      const token = header(req, 'x-csrf-token') ?? fields['_rx_csrf_token'];
      if (token !== undefined && token !== '') return token === session.token;
      if (session.memberSrl !== null) return false;
    }
    const fetchSite = header(req, 'sec-fetch-site');
    if (fetchSite === 'same-origin' || fetchSite === 'none') return true;
    if (fetchSite === 'cross-site') return false;
    const origin = header(req, 'origin');
    if (present(origin)) return internal(origin);
    return present(referer) && internal(referer);
  }

  private login(fields: Record<string, string>, session: Session, cookies: string[]): Answer {
    const member = this.members.find(
      (m) => m.userId === fields['user_id'] && m.password === fields['password'],
    );
    if (member === undefined) {
      return { error: -1, message: '아이디 또는 비밀번호가 일치하지 않습니다.' };
    }
    session.memberSrl = member.memberSrl;
    if (this.flavor === 'rhymix') session.rotateOnNextGet = true;
    else cookies.push('xe_logged=true; path=/');
    return { redirect_url: '/index', error: 0, message: OK_MESSAGE };
  }

  /**
   * The board module's permission check (ModuleObject::_generatePermissionError): a guest is told
   * to log in unless guests may write; a member where only managers may write, that it is for
   * administrators. Null when the write may go on.
   */
  private permissionDenied(member: TestMember | null): Answer | null {
    if (member === null && !this.guestsMayWrite) return { error: -1, message: NOT_LOGGED };
    if (!this.writePermission) {
      return { error: -1, message: member === null ? NOT_LOGGED : ADMIN_ONLY };
    }
    return null;
  }

  /**
   * procBoardInsertDocument, its checks in Rhymix 2.1's order (board.controller.php, then
   * document.controller.php insertDocument/updateDocument with the spam filter's trigger).
   * Exceptions thrown by the board answer -2, returned errors -1, as in Rhymix.
   */
  private insert(fields: Record<string, string>, session: Session, ip: string): Answer {
    const member = this.memberOf(session);
    const denied = this.permissionDenied(member);
    if (denied !== null) return denied;
    if (this.captcha) return { error: -1, message: '자동 입력 방지 확인이 필요합니다.' };
    const content = fields['content'] ?? '';
    if (isEmptyHtml(content)) return { error: -2, message: '내용이 없습니다.' };
    if (
      this.documentLengthLimitKb !== null &&
      Buffer.byteLength(content) > this.documentLengthLimitKb * 1024
    ) {
      return { error: -2, message: '내용이 너무 깁니다.' };
    }
    const categorySrl = Number(fields['category_srl'] ?? '0') || 0;
    // Only a missing category is refused: one the board has not is dropped below.
    if (categorySrl === 0 && this.categories.size > 0) {
      return { error: -1, message: '분류 값은 필수입니다.' };
    }
    const srlField = Number(fields['document_srl'] ?? '0') || 0;
    const existing = srlField === 0 ? undefined : this.docs.get(srlField);
    if (existing !== undefined) {
      if (member === null || existing.memberSrl !== member.memberSrl) {
        return { error: -2, message: NOT_PERMITTED };
      }
      if (this.editLocked.has(existing.documentSrl)) {
        return { error: -2, message: '댓글이 1개 이상 달린 글은 수정할 수 없습니다.' };
      }
    }
    // The spam filter's trigger: a banned IP is refused; only a new document (no document_srl at
    // all) is checked against the window; every write that gets here is logged.
    if (this.bannedIps.has(ip)) return { error: -1, message: SPAM_TEXTS[this.spamLanguage].denied };
    if (this.spamFilter) {
      const refusal = this.spamCheck(ip, srlField === 0);
      if (refusal !== null) return refusal;
    }
    // You cannot choose a new document's number: an unknown document_srl is refused (after the
    // spam filter has logged the try).
    if (srlField !== 0 && existing === undefined) return { error: -1, message: NOT_PERMITTED };
    const title = escapeTitle((fields['title'] ?? '').trim()) || titleFromContent(content);
    // A guest's post needs a name, which we never send.
    if (member === null) return { error: -1, message: INVALID_REQUEST };
    const now = regdate();
    // An edit replaces the whole document: whatever the request leaves out is reset.
    const stored = {
      categorySrl: this.categories.has(categorySrl) ? categorySrl : 0,
      title,
      content: this.filterHtml(content),
      tags: normaliseTags(fields['tags'] ?? ''),
      commentStatus: fields['comment_status'] === 'ALLOW' ? ('ALLOW' as const) : ('DENY' as const),
      extraVars: this.extraVarsOf(fields),
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
      return { error: -1, message: SPAM_TEXTS[this.spamLanguage].denied };
    }
    recent.push(now);
    if (isNew && recent.length > 1) {
      return {
        error: -1,
        message: SPAM_TEXTS[this.spamLanguage].limited(Math.round(this.spamWindowMs / 1000)),
      };
    }
    return null;
  }

  private remove(fields: Record<string, string>, session: Session): Answer {
    const member = this.memberOf(session);
    // The action needs the write permission, like a write.
    const denied = this.permissionDenied(member);
    if (denied !== null) return denied;
    const doc = this.docs.get(Number(fields['document_srl'] ?? '0'));
    if (doc === undefined || doc.mid !== fields['mid'])
      return { error: -2, message: '대상을 찾을 수 없습니다.' };
    if (member === null || doc.memberSrl !== member.memberSrl) return { error: -2, message: NOT_PERMITTED };
    this.docs.delete(doc.documentSrl);
    // Rhymix answers with where to go next, not with the document deleted.
    return {
      redirect_url: `${this.baseUrl}/${this.mid}`,
      mid: this.mid,
      page: null,
      error: 0,
      message: '삭제했습니다.',
    };
  }

  private list(fields: Record<string, string>): Answer {
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
    const totalPage = Math.max(1, Math.ceil(total / PAGE_SIZE));
    // XE's PageHandler: a window of page links around the current page.
    const pageCount = Math.min(PAGE_LINKS, totalPage);
    const firstPage = Math.max(1, Math.min(page - Math.floor(PAGE_LINKS / 2), totalPage - pageCount + 1));
    return {
      document_list: docs
        .slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE)
        .map((d) => ({ ...this.arrange(d), extra_vars: EMPTY_EXTRA_VARS, ...this.arrangeTail(d) })),
      page_navigation: {
        total_count: total,
        total_page: totalPage,
        cur_page: page,
        page_count: pageCount,
        first_page: firstPage,
        last_page: firstPage + pageCount - 1,
        point: 0,
      },
      error: 0,
      message: OK_MESSAGE,
    };
  }

  /**
   * As a real Rhymix 2.1.35 answers: a missing document is `error: 0` without `oDocument`, and a
   * document of another board is shown under any mid, without saying which board it is on. The
   * extra variables are the board's, each with its value (null when unset).
   */
  private view(fields: Record<string, string>): Answer {
    const doc = this.docs.get(Number(fields['document_srl'] ?? '0'));
    if (doc === undefined) return { error: 0, message: OK_MESSAGE };
    const extraVars = this.extraKeys.map((key, i) => ({
      name: key.name,
      type: key.type,
      desc: '',
      value: doc.extraVars[i + 1] ?? null,
    }));
    return {
      oDocument: { ...this.arrange(doc), extra_vars: extraVars, ...this.arrangeTail(doc) },
      error: 0,
      message: OK_MESSAGE,
    };
  }

  /** A JSON array with every number a string (as the database gave it); `null` for no categories. */
  private categoryAnswer(): Answer {
    const entries = [...this.categories];
    const list = entries.map(([srl, title], i) => ({
      mid: this.mid,
      module_srl: String(this.moduleSrl),
      category_srl: String(srl),
      parent_srl: '0',
      text: escapeTitle(title),
      title: escapeTitle(title),
      description: '',
      expand: false,
      is_default: false,
      color: '',
      document_count: String(this.documents().filter((d) => d.categorySrl === srl).length),
      depth: 0,
      child_count: 0,
      childs: [],
      grant: true,
      selected: false,
      ...(i === 0 ? { first: true } : {}),
      ...(i === entries.length - 1 ? { last: true } : {}),
    }));
    return { category_list: list.length === 0 ? null : list, error: 0, message: OK_MESSAGE };
  }

  /** A document as the board API shows it, up to extra_vars (board.api.php arrangeContent). */
  private arrange(doc: TestDocument): Record<string, unknown> {
    const member = this.members.find((m) => m.memberSrl === doc.memberSrl);
    return {
      document_srl: doc.documentSrl,
      category_srl: doc.categorySrl,
      member_srl: doc.memberSrl,
      nick_name: member?.nickName ?? '',
      is_notice: 'N',
      lang_code: 'ko',
      title: doc.title,
      title_bold: 'N',
      title_color: 'N',
      content: doc.content,
      // The stored column: the tag module joins them with ", ".
      tags: doc.tags.join(', '),
      readed_count: 0,
      voted_count: 0,
      blamed_count: 0,
      comment_count: 0,
      uploaded_count: 0,
      regdate: doc.regdate,
      last_update: doc.lastUpdate,
    };
  }

  /** The fields after extra_vars. */
  private arrangeTail(doc: TestDocument): Record<string, unknown> {
    return { status: 'PUBLIC', comment_status: doc.commentStatus, notify_message: 'N' };
  }

  /** The board's extra variables in a request: only those it defines, only when not empty. */
  private extraVarsOf(fields: Record<string, string>): Record<number, string> {
    const out: Record<number, string> = {};
    for (let i = 1; i <= this.extraKeys.length; i++) {
      const value = fields[`extra_vars${i}`];
      if (value !== undefined && value !== '') out[i] = value;
    }
    return out;
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

/**
 * The named entities PHP's htmlspecialchars keeps when double_encode is off (its HTML 4.01 table,
 * case-sensitive; `&apos;` is not one of them).
 */
const HTML401_ENTITIES = new Set(
  (
    'quot amp lt gt nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr ' +
    'deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest ' +
    'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc ' +
    'Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN ' +
    'szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute ' +
    'icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml ' +
    'yacute thorn yuml OElig oelig Scaron scaron Yuml fnof circ tilde Alpha Beta Gamma Delta Epsilon ' +
    'Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho Sigma Tau Upsilon Phi Chi Psi Omega alpha ' +
    'beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigmaf sigma tau ' +
    'upsilon phi chi psi omega thetasym upsih piv ensp emsp thinsp zwnj zwj lrm rlm ndash mdash lsquo ' +
    'rsquo sbquo ldquo rdquo bdquo dagger Dagger bull hellip permil prime Prime lsaquo rsaquo oline ' +
    'frasl euro image weierp real trade alefsym larr uarr rarr darr harr crarr lArr uArr rArr dArr hArr ' +
    'forall part exist empty nabla isin notin ni prod sum minus lowast radic prop infin ang and or cap ' +
    'cup int there4 sim cong asymp ne equiv le ge sub sup nsub sube supe oplus otimes perp sdot lceil ' +
    'rceil lfloor rfloor lang rang loz spades clubs hearts diams'
  ).split(' '),
);

/**
 * Rhymix's `escape($title, false)`: PHP htmlspecialchars(ENT_QUOTES, double_encode=false). What is
 * already an entity stays as it is (`&amp;` is not escaped twice): a known named one, or a numeric
 * one up to U+10FFFF; any other `&` becomes `&amp;`.
 */
function escapeTitle(title: string): string {
  const kept = (entity: string): boolean => {
    const numeric = /^#(?:[xX]([0-9a-fA-F]+)|(\d+))$/.exec(entity);
    if (numeric === null) return HTML401_ENTITIES.has(entity);
    const code = numeric[1] === undefined ? Number(numeric[2]) : parseInt(numeric[1], 16);
    return code <= 0x10ffff;
  };
  return title
    .replace(/&(#?[0-9a-zA-Z]+);|&/g, (whole, entity: string | undefined) =>
      entity !== undefined && kept(entity) ? whole : `&amp;${whole.slice(1)}`,
    )
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#039;');
}

/**
 * Rhymix's tag module (TagModel::splitString): split on commas and `#`, trim, drop blanks, and keep
 * one of each tag ignoring ASCII case — in the place of its first use, spelt as its last.
 */
function normaliseTags(raw: string): string[] {
  const tags = new Map<string, string>();
  for (const fragment of raw.split(/[,#]+/)) {
    const tag = fragment.trim();
    if (tag !== '')
      tags.set(
        tag.replace(/[A-Z]/g, (c) => c.toLowerCase()),
        tag,
      );
  }
  return [...tags.values()];
}

/** is_empty_html_content: no text and no image or media once the tags are gone. */
function isEmptyHtml(html: string): boolean {
  if (/<(?:img|video|audio|iframe|object|embed)\b/i.test(html)) return false;
  return html.replace(/<[^>]*>/g, '').replace(/&nbsp;|\s/g, '') === '';
}

/**
 * An empty title is taken from the text: cut_str(…, 20, '...'), which is mb_strimwidth to 24
 * columns (a wide character, Hangul or CJK, takes 2) with the "..." inside them; else "Untitled".
 */
function titleFromContent(content: string): string {
  const text = decodeTitle(content.replace(/<[^>]*>/g, ''))
    .replace(/\s+/g, ' ')
    .trim();
  const columns = (c: string): number =>
    /[\u1100-\u115f\u2e80-\u303e\u3041-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(
      c,
    )
      ? 2
      : 1;
  const chars = Array.from(text);
  let width = chars.reduce((sum, c) => sum + columns(c), 0);
  let cut = text;
  if (width > 24) {
    const kept: string[] = [];
    width = 3;
    for (const c of chars) {
      if (width + columns(c) > 24) break;
      width += columns(c);
      kept.push(c);
    }
    cut = `${kept.join('')}...`;
  }
  return escapeTitle(cut) || 'Untitled';
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
