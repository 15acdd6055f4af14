import formbody from '@fastify/formbody';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pipeline } from '../queue/pipeline.js';
import { isAppError } from '../shared/app-error.js';
import type { Logger } from '../shared/logger.js';
import { formatKst } from '../publish/index.js';
import { AdminError } from './admin-error.js';
import type { AdminTemplates } from './admin-templates.js';
import { bearerToken, secretsEqual, type Session, type SessionAuth } from './auth.js';
import {
  holdReport,
  LISTABLE_STATES,
  adminQueues,
  jobCounts,
  listJobs,
  oneOf,
  releaseReport,
  reprocess,
  retryJob,
  stateLabel,
  type ListableState,
} from './operations.js';
import type { AdminProviders } from './providers.js';
import type { LoginRateLimiter } from './rate-limiter.js';
import type { ReportData } from './report-data.js';
import { jobRowView, noticeFor, noticeParam, reprocessNotice, type NoticeCode } from './views.js';

/** The session cookie: scoped to /admin, never readable by scripts, never sent cross-site. */
export const SESSION_COOKIE = 'isw_ko_admin';
/** How long a login lasts. Short, because a stolen cookie is valid until it expires. */
export const SESSION_TTL_MS = 12 * 3600_000;
/** Where bull-board is mounted (behind the same authentication as every admin page). */
export const BULL_BOARD_PATH = '/admin/queues';

export interface AdminRoutesOptions {
  readonly pipeline: Pipeline;
  readonly data: ReportData;
  readonly templates: AdminTemplates;
  readonly auth: SessionAuth;
  readonly limiter: LoginRateLimiter;
  /** ADMIN_PASSWORD. */
  readonly password: string;
  /** ADMIN_TOKEN, or null for no bearer access. */
  readonly token: string | null;
  readonly secureCookies: boolean;
  readonly providers: AdminProviders;
  readonly logger: Logger;
  readonly clock: () => number;
}

/** Who a request is: a logged-in browser (with its session, for CSRF) or an API client with the token. */
type Principal = { readonly kind: 'session'; readonly session: Session } | { readonly kind: 'token' };

// Admin pages: no caching (they show live state and carry CSRF tokens), no framing, no scripts at
// all, no Referer to other sites (report ids in URLs). Not `no-referrer`: with it browsers send
// `Origin: null` on our own form posts, and the same-origin check needs the real origin. Inline styles only; the post preview's srcdoc iframe
// inherits this policy, so a script in a post could not run there either.
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-robots-tag': 'noindex',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

// bull-board runs its own scripts and styles: the same headers without a CSP it would break.
const BULL_BOARD_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
} as const;

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The admin pages, the admin JSON API and bull-board: a fastify plugin to register with the prefix
 * `/admin` (its routes are relative to it), all behind one gate: a
 * session cookie from the login form (CSRF token on every form) or `Authorization: Bearer
 * ADMIN_TOKEN`. Nothing under `/admin` but the login form answers without it (401 otherwise).
 */
export async function adminRoutes(app: FastifyInstance, o: AdminRoutesOptions): Promise<void> {
  const principals = new WeakMap<FastifyRequest, Principal>();
  const log = o.logger.child({ component: 'admin' });
  await app.register(formbody, { bodyLimit: 16 * 1024 });

  const isBullBoard = (req: FastifyRequest): boolean =>
    req.url.startsWith(`${BULL_BOARD_PATH}/`) || req.url === BULL_BOARD_PATH;
  const isApi = (req: FastifyRequest): boolean => req.url.startsWith('/admin/api/');
  const isLogin = (req: FastifyRequest): boolean => pathOf(req.url) === '/admin/login';

  const render = (
    reply: FastifyReply,
    status: number,
    page: keyof AdminTemplates,
    view: object,
  ): FastifyReply =>
    reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(o.templates[page](view));

  const pageBase = (
    req: FastifyRequest,
    title: string,
    here: string | null,
    extra: { notice?: string | null; error?: string | null } = {},
  ) => {
    const p = principals.get(req);
    return {
      title,
      nav: p !== undefined,
      csrf: p?.kind === 'session' ? o.auth.csrfToken(p.session) : '',
      notice: extra.notice ?? noticeFor((req.query as Record<string, unknown> | undefined)?.notice),
      error: extra.error ?? null,
      here: { reports: here === 'reports', jobs: here === 'jobs', quarantine: here === 'quarantine' },
    };
  };

  const loginPage = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    error: string | null,
    next: string,
  ): FastifyReply => render(reply, status, 'login', { page: pageBase(req, '로그인', null, { error }), next });

  const unauthorized = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (req.method === 'GET' && !isApi(req) && (req.headers.accept ?? '').includes('text/html')) {
      // A person at a browser: the login form, still with 401 so no client mistakes it for the page.
      return loginPage(req, reply, 401, null, safeNext(req.url));
    }
    return reply
      .code(401)
      .headers({ ...BULL_BOARD_HEADERS, 'www-authenticate': 'Bearer realm="isw-ko admin"' })
      .send({
        error: 'unauthorized',
        message: 'log in at /admin/login or send Authorization: Bearer ADMIN_TOKEN',
      });
  };

  const tooMany = (req: FastifyRequest, reply: FastifyReply, retryAfterMs: number): FastifyReply => {
    const seconds = Math.ceil(retryAfterMs / 1000);
    reply.header('retry-after', String(seconds));
    log.warn({ ip: req.ip }, 'admin login rate limit reached');
    if (isLogin(req)) {
      return loginPage(
        req,
        reply,
        429,
        `로그인을 너무 많이 시도했습니다. ${Math.ceil(seconds / 60)}분 뒤에 다시 시도하세요.`,
        '/admin/reports',
      );
    }
    return reply
      .code(429)
      .headers(BULL_BOARD_HEADERS)
      .send({ error: 'too_many_attempts', retryAfterSeconds: seconds });
  };

  // Every request under /admin passes here first.
  app.addHook('onRequest', async (req, reply) => {
    if (isLogin(req)) return;
    const bearer = bearerToken(req.headers.authorization);
    if (bearer !== null) {
      const decision = o.limiter.check(req.ip);
      if (!decision.allowed) return tooMany(req, reply, decision.retryAfterMs);
      if (o.token !== null && secretsEqual(bearer, o.token)) {
        principals.set(req, { kind: 'token' });
        return;
      }
      o.limiter.fail(req.ip);
      log.warn({ ip: req.ip, path: pathOf(req.url) }, 'admin API: wrong bearer token');
      return unauthorized(req, reply);
    }
    const session = o.auth.verify(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (session === null) return unauthorized(req, reply);
    principals.set(req, { kind: 'session', session });
    if (UNSAFE_METHODS.has(req.method) && !sameOrigin(req)) {
      log.warn(
        { ip: req.ip, origin: req.headers.origin, path: pathOf(req.url) },
        'admin: cross-site request refused',
      );
      return reply
        .code(403)
        .headers(BULL_BOARD_HEADERS)
        .send({ error: 'forbidden', message: 'cross-site request refused' });
    }
    return;
  });

  // Forms are checked once their body is parsed: a session's unsafe request needs its CSRF token.
  // bull-board's own fetch calls carry none; for them the same-origin check above and the
  // SameSite=Strict cookie are the protection.
  app.addHook('preHandler', async (req, reply) => {
    const p = principals.get(req);
    if (p?.kind !== 'session' || !UNSAFE_METHODS.has(req.method) || isBullBoard(req)) return;
    const token = field(req.body, '_csrf') ?? headerValue(req.headers['x-csrf-token']);
    if (!o.auth.checkCsrf(p.session, token)) {
      log.warn({ ip: req.ip, path: pathOf(req.url) }, 'admin: missing or wrong CSRF token');
      return render(reply, 403, 'message', {
        page: pageBase(req, '요청 거부', null),
        heading: '요청을 처리할 수 없습니다',
        message:
          '페이지가 오래되었거나 다른 사이트에서 보낸 요청입니다. 페이지를 새로 고친 뒤 다시 시도하세요.',
        hint: null,
        back: { href: '/admin/reports', text: '보고서 목록으로' },
      });
    }
    return;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    if (isBullBoard(req)) reply.headers(BULL_BOARD_HEADERS);
    return payload;
  });

  app.setErrorHandler(async (err, req, reply) => {
    const status = statusFor(err);
    if (status >= 500) log.error({ err, path: pathOf(req.url) }, 'admin request failed');
    else log.info({ code: codeOf(err), path: pathOf(req.url) }, 'admin request refused');
    const message = err instanceof Error ? err.message : String(err);
    const hint = isAppError(err) ? (err.hint ?? null) : null;
    if (
      isApi(req) ||
      isBullBoard(req) ||
      (req.method !== 'GET' && req.headers.accept?.includes('application/json') === true)
    ) {
      return reply
        .code(status)
        .send({ error: codeOf(err), message: status >= 500 ? 'internal error' : message, hint });
    }
    return render(reply, status, 'message', {
      page: pageBase(req, '오류', null),
      heading: status >= 500 ? '내부 오류가 났습니다' : '요청을 처리할 수 없습니다',
      message: status >= 500 ? '서버 로그를 확인하세요.' : message,
      hint,
      back: { href: '/admin/reports', text: '보고서 목록으로' },
    });
  });

  app.setNotFoundHandler(async (req, reply) => {
    // Unknown admin paths still need the gate: the onRequest hook ran, so reaching here is authenticated.
    if (!principals.has(req)) return unauthorized(req, reply);
    if (isApi(req)) return reply.code(404).send({ error: 'not_found' });
    return render(reply, 404, 'message', {
      page: pageBase(req, '없는 페이지', null),
      heading: '페이지가 없습니다',
      message: '주소를 확인하세요.',
      hint: null,
      back: { href: '/admin/reports', text: '보고서 목록으로' },
    });
  });

  // --- login and logout

  app.get('/login', async (req, reply) => {
    if (o.auth.verify(readCookie(req.headers.cookie, SESSION_COOKIE)) !== null)
      return reply.redirect('/admin/reports', 303);
    return loginPage(req, reply, 200, null, safeNext(field(req.query, 'next') ?? '/admin/reports'));
  });

  app.post('/login', async (req, reply) => {
    if (!sameOrigin(req)) return reply.code(403).headers(PAGE_HEADERS).send('cross-site login refused');
    const decision = o.limiter.check(req.ip);
    // Refused before the password is looked at: a blocked client learns nothing from further guesses.
    if (!decision.allowed) return tooMany(req, reply, decision.retryAfterMs);
    const next = safeNext(field(req.body, 'next') ?? '/admin/reports');
    if (!secretsEqual(field(req.body, 'password') ?? '', o.password)) {
      o.limiter.fail(req.ip);
      log.warn({ ip: req.ip }, 'admin login failed');
      return loginPage(req, reply, 401, '비밀번호가 틀렸습니다.', next);
    }
    o.limiter.succeed(req.ip);
    const { cookie, session } = o.auth.issue();
    log.info({ ip: req.ip }, 'admin logged in');
    return reply
      .header(
        'set-cookie',
        sessionCookie(cookie, Math.floor((session.expiresAt - o.clock()) / 1000), o.secureCookies),
      )
      .redirect(next, 303);
  });

  app.post('/logout', async (_req, reply) =>
    reply
      .header('set-cookie', sessionCookie('', 0, o.secureCookies))
      .redirect('/admin/login?notice=logged-out', 303),
  );

  app.get('/', async (_req, reply) => reply.redirect('/admin/reports', 303));

  // --- reports

  app.get('/reports', async (req, reply) => {
    const page = pageNumber(field(req.query, 'page'));
    const [{ rows, hasNext }, counts, rejections, quarantined, tokensThisMonth, holds] = await Promise.all([
      o.data.list(page),
      jobCounts(o.pipeline, o.providers.extraQueues),
      o.pipeline.store.listRejections(),
      o.providers.quarantine === undefined
        ? Promise.resolve(0)
        : o.providers.quarantine.list(1000).then((l) => l.length),
      o.pipeline.store.tokensUsed(new Date(o.clock()).toISOString().slice(0, 7)),
      o.pipeline.holds.list(),
    ]);
    return render(reply, 200, 'reports', {
      page: pageBase(req, '보고서', 'reports'),
      reports: rows,
      queues: Object.entries(counts).map(([name, c]) => ({
        name,
        failed: c.failed ?? 0,
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0),
        active: c.active ?? 0,
      })),
      quarantined,
      heldReports: holds.length,
      tokensThisMonth,
      rejections: rejections.slice(0, 20).map((r) => ({
        emailId: r.emailId,
        origin: `${r.origin.kind}: ${r.origin.ref}`,
        code: r.code,
        reason: r.reason,
        at: formatKst(r.at),
      })),
      prev: page > 0 ? `/admin/reports?page=${page - 1}` : null,
      next: hasNext ? `/admin/reports?page=${page + 1}` : null,
    });
  });

  app.get<{ Params: { id: string } }>('/reports/:id', async (req, reply) => {
    const d = await o.data.detail(req.params.id, o.clock());
    const base = `/admin/reports/${encodeURIComponent(req.params.id)}`;
    return render(reply, 200, 'report', {
      page: pageBase(req, d.report.title, 'reports'),
      report: d.report,
      stages: d.stages,
      hold: d.hold,
      hasSummary: d.hasSummary,
      usage: d.usage,
      summaryJson: d.summaryJson,
      posts: d.posts,
      preview: d.preview,
      jobs: d.jobs,
      actions: {
        resummarize: `${base}/resummarize`,
        repost: `${base}/repost`,
        hold: `${base}/hold`,
        unhold: `${base}/unhold`,
      },
    });
  });

  const reportAction =
    (from: 'summarize' | 'publish') =>
    async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const result = await reprocess(o.pipeline, req.params.id, from, renotifyOption(o.providers));
      log.info(
        { reportId: req.params.id, from, done: result.lines, by: principals.get(req)?.kind },
        'admin re-ran a report',
      );
      if (isApi(req)) return reply.send({ ok: true, done: result.lines, job: result.job, then: result.then });
      return reply.redirect(
        `/admin/reports/${encodeURIComponent(req.params.id)}?notice=${reprocessNotice(from, result)}`,
        303,
      );
    };
  app.post('/reports/:id/resummarize', reportAction('summarize'));
  app.post('/reports/:id/repost', reportAction('publish'));
  app.post('/api/reports/:id/resummarize', reportAction('summarize'));
  app.post('/api/reports/:id/repost', reportAction('publish'));

  // Hold / release: back to where the button was (the report page, or the quarantine page's list).
  const backTo = (req: FastifyRequest, id: string, notice: NoticeCode): string =>
    field(req.body, 'back') === 'quarantine'
      ? `/admin/quarantine?notice=${notice}`
      : `/admin/reports/${encodeURIComponent(id)}?notice=${notice}`;
  const holdAction = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const reason = (field(req.body, 'reason') ?? '').slice(0, 500);
    const by = principals.get(req)?.kind === 'token' ? 'admin API' : 'admin page';
    const done = await holdReport(o.pipeline, req.params.id, { by, reason });
    log.info({ reportId: req.params.id, by, reason }, 'admin held a report');
    if (isApi(req)) return reply.send({ ok: true, done: [done] });
    return reply.redirect(backTo(req, req.params.id, 'held'), 303);
  };
  const unholdAction = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const done = await releaseReport(o.pipeline, req.params.id);
    log.info(
      { reportId: req.params.id, done, by: principals.get(req)?.kind },
      'admin released a held report',
    );
    if (isApi(req)) return reply.send({ ok: true, done });
    return reply.redirect(backTo(req, req.params.id, 'unheld'), 303);
  };
  app.post('/reports/:id/hold', holdAction);
  app.post('/reports/:id/unhold', unholdAction);
  app.post('/api/reports/:id/hold', holdAction);
  app.post('/api/reports/:id/unhold', unholdAction);

  app.get('/api/reports', async (req) => {
    const { rows, hasNext } = await o.data.list(pageNumber(field(req.query, 'page')));
    return { reports: rows, hasNext };
  });

  app.get<{ Params: { id: string } }>('/api/reports/:id', async (req) => {
    const d = await o.data.detail(req.params.id, o.clock());
    return {
      report: d.report,
      stages: d.stages,
      summary: d.summary,
      posts: d.posts,
      post: d.post,
      jobs: d.jobs,
    };
  });

  // --- jobs

  // The stage queues and the notify queues: failed mail is listed and retried like a failed summary.
  const extraQueues = o.providers.extraQueues ?? [];
  const queueNames = [...adminQueues(o.pipeline, extraQueues).keys()];
  const jobsQuery = (req: FastifyRequest): { state: ListableState; queue: string | undefined } => {
    const state = oneOf('state', field(req.query, 'state') ?? 'failed', LISTABLE_STATES);
    const q = field(req.query, 'queue');
    return { state, queue: q === undefined || q === '' ? undefined : oneOf('queue', q, queueNames) };
  };

  app.get('/jobs', async (req, reply) => {
    const { state, queue } = jobsQuery(req);
    const jobs = await listJobs(o.pipeline, {
      state,
      extraQueues,
      ...(queue === undefined ? {} : { queue }),
    });
    const now = o.clock();
    const href = (s: string, q: string | undefined): string =>
      `/admin/jobs?state=${s}${q === undefined ? '' : `&queue=${q}`}`;
    return render(reply, 200, 'jobs', {
      page: pageBase(req, '작업', 'jobs'),
      stateLabel: stateLabel(state),
      queue: queue ?? null,
      states: LISTABLE_STATES.map((s) => ({ label: stateLabel(s), href: href(s, queue), here: s === state })),
      queues: [
        { label: '전체', href: href(state, undefined), here: queue === undefined },
        ...queueNames.map((q) => ({ label: q, href: href(state, q), here: q === queue })),
      ],
      jobs: jobs.map((j) => jobRowView(j, now, stateLabel(j.state))),
    });
  });

  app.get('/api/jobs', async (req) => {
    const { state, queue } = jobsQuery(req);
    return {
      jobs: await listJobs(o.pipeline, { state, extraQueues, ...(queue === undefined ? {} : { queue }) }),
    };
  });

  // 다시 시도 (a failed job) and 지금 실행 (a delayed one): back to the list the button was on, or
  // to the report page when it was pressed there.
  const retryAction = async (
    req: FastifyRequest<{ Params: { queue: string; id: string } }>,
    reply: FastifyReply,
  ) => {
    const queue = oneOf('queue', req.params.queue, queueNames);
    const done = await retryJob(o.pipeline, req.params.id, queue, extraQueues);
    log.info({ ...done, by: principals.get(req)?.kind }, 'admin retried a job');
    if (isApi(req)) return reply.send({ ok: true, ...done });
    const notice = noticeParam(done.action);
    const report = field(req.body, 'report');
    if (report !== undefined && report !== '')
      return reply.redirect(`/admin/reports/${encodeURIComponent(report)}?notice=${notice}`, 303);
    const from = done.action === 'promoted' ? 'delayed' : 'failed';
    return reply.redirect(`/admin/jobs?state=${from}&queue=${queue}&notice=${notice}`, 303);
  };
  app.post('/jobs/:queue/:id/retry', retryAction);
  app.post('/api/jobs/:queue/:id/retry', retryAction);

  // --- quarantine

  const heldReports = async (): Promise<
    {
      reportId: string;
      title: string;
      by: string;
      reason: string;
      heldKst: string;
      href: string;
      unholdAction: string;
    }[]
  > =>
    Promise.all(
      (await o.pipeline.holds.list()).map(async (h) => ({
        reportId: h.reportId,
        title: (await o.pipeline.store.getReport(h.reportId))?.report.title ?? h.reportId,
        by: h.by,
        reason: h.reason,
        heldKst: formatKst(h.at),
        href: `/admin/reports/${encodeURIComponent(h.reportId)}`,
        unholdAction: `/admin/reports/${encodeURIComponent(h.reportId)}/unhold`,
      })),
    );

  app.get('/quarantine', async (req, reply) => {
    const held = o.providers.quarantine === undefined ? [] : await o.providers.quarantine.list(200);
    return render(reply, 200, 'quarantine', {
      page: pageBase(req, '격리함', 'quarantine'),
      heldReports: await heldReports(),
      configured: o.providers.quarantine !== undefined,
      held: held.map((h) => ({
        ...h,
        heldKst: formatKst(h.heldAt),
        releaseAction: `/admin/quarantine/${encodeURIComponent(h.id)}/release`,
      })),
    });
  });

  app.get('/api/quarantine', async () => ({
    held: o.providers.quarantine === undefined ? [] : await o.providers.quarantine.list(200),
    heldReports: await o.pipeline.holds.list(),
  }));

  const releaseAction = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    if (o.providers.quarantine === undefined) {
      throw new AdminError(
        'QUARANTINE_NOT_CONFIGURED',
        'this process has no IMAP inbox, so nothing is held',
        {
          hint: 'set IMAP_HOST to use the IMAP inbox and its quarantine',
        },
      );
    }
    await o.providers.quarantine.release(req.params.id, 'admin');
    log.info({ id: req.params.id, by: principals.get(req)?.kind }, 'admin released a held email');
    if (isApi(req)) return reply.send({ ok: true });
    return reply.redirect('/admin/quarantine?notice=released', 303);
  };
  app.post('/quarantine/:id/release', releaseAction);
  app.post('/api/quarantine/:id/release', releaseAction);

  // --- bull-board, inside this scope so the gate above covers its pages, API and assets

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const queues: Queue[] = [...adminQueues(o.pipeline, extraQueues).values()];
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'isw-ko' } },
  });
  // Relative to this scope's `/admin` prefix.
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH.slice('/admin'.length) });
}

function renotifyOption(providers: AdminProviders): { notify?: NonNullable<AdminProviders['renotify']> } {
  return providers.renotify === undefined ? {} : { notify: providers.renotify };
}

/** HTTP status for an error: ours by code, fastify's by its statusCode, else 500. */
function statusFor(err: unknown): number {
  if (isAppError(err)) {
    if (err.code.endsWith('NOT_FOUND')) return 404;
    if (err.code === 'JOB_NOT_RETRIABLE' || err.code === 'SUMMARY_MISSING' || err.code === 'REPORT_NOT_HELD')
      return 409;
    if (err.code.endsWith('NOT_CONFIGURED')) return 501;
    return err.kind === 'user' ? 400 : 500;
  }
  if (typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number') {
    return err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  }
  return 500;
}

function codeOf(err: unknown): string {
  if (isAppError(err)) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'INTERNAL';
}

/** A string field of a parsed body or query, or undefined. */
function field(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null || !(name in source)) return undefined;
  const v = (source as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function pageNumber(value: string | undefined): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n >= 0 && n < 100_000 ? n : 0;
}

/** Where to go after logging in: only an admin path of this site (no `//evil.example`, no scheme). */
export function safeNext(url: string): string {
  return /^\/admin(?:[/?#]|$)/.test(url) &&
    !url.startsWith('//') &&
    !url.includes('\\') &&
    !url.startsWith('/admin/login')
    ? url
    : '/admin/reports';
}

/** One cookie's value from a `Cookie` header (RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page, form or
 * link sends it: the first line of CSRF defence), Path=/admin, Secure when we are served over https.
 */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/admin',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, maxAgeSeconds)}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * Whether an unsafe request comes from our own pages: its Origin (or, without one, the browser's
 * Sec-Fetch-Site) names this host. A request with neither comes from a non-browser client, which
 * cannot be made to carry a victim's cookie, so it passes (its CSRF token is still checked).
 */
export function sameOrigin(req: Pick<FastifyRequest, 'headers' | 'host'>): boolean {
  const origin = headerValue(req.headers.origin);
  if (origin !== undefined) {
    if (origin === 'null') return false;
    try {
      return new URL(origin).host === req.host;
    } catch {
      // An Origin that is not a URL is not ours.
      return false;
    }
  }
  const site = headerValue(req.headers['sec-fetch-site']);
  return site === undefined || site === 'same-origin' || site === 'none';
}
