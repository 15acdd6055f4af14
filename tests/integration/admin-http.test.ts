// Covers the admin HTTP server on a real pipeline: 401 on every admin route without credentials, login and its rate limit, the pages, the re-run buttons (editing, never duplicating, the post), bull-board, probes, metrics, and HTML from an email shown as text everywhere.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/admin/metrics.js';
import type { HeldMessageInfo } from '../../src/admin/providers.js';
import { startAdminServer, type RunningAdminServer } from '../../src/admin/server.js';
import type { App } from '../../src/cli/app.js';
import { parseEmail } from '../../src/parse/index.js';
import { reportIdOf } from '../../src/queue/names.js';
import { originalParts, readFixture } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

const PASSWORD = 'correct horse battery staple';
const TOKEN = 'admin-token-0123456789abcdef0123456789';
const XSS_TAKEAWAY = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';

let h: PipelineHarness;
let app: App;
let admin: RunningAdminServer;
let routes: { method: string; url: string }[];
const released: string[] = [];
let failedReportId: string;
let xssReportId: string;

/** An email whose first key takeaway and subject carry HTML, as text (entities in the email's HTML). */
async function emailWithHtmlInIt(): Promise<Buffer> {
  const raw = readFixture('isw-roca-2025-03-02.eml');
  const parts = originalParts(raw);
  const report = await parseEmail(raw);
  const first = report.keyTakeaways[0] ?? '';
  const needle = first.slice(0, 40);
  const escaped = XSS_TAKEAWAY.replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
  if (parts.html === null || parts.text === null || !parts.html.includes(needle)) {
    throw new Error(`the fixture's HTML does not contain its first takeaway verbatim ("${needle}")`);
  }
  const node = new MailComposer({
    from: parts.headers.from,
    to: parts.headers.to,
    subject: `${parts.headers.subject} <b>bold</b>`,
    date: parts.headers.date,
    messageId: '<xss-test@example.org>',
    // Every place the sentence stands (a body paragraph and the Key Takeaways list).
    html: parts.html.replaceAll(needle, `${escaped} ${needle}`),
    text: parts.text.replaceAll(needle, `${XSS_TAKEAWAY} ${needle}`),
  }).compile();
  return node.build();
}

const fakeQuarantine = {
  list: (): Promise<HeldMessageInfo[]> =>
    Promise.resolve([
      {
        id: 'held-1',
        ref: 'imap:INBOX/1/7',
        from: 'spoof@understandingwar.org',
        subject: 'Fake <script>window.__xss=3</script> report',
        code: 'AUTH_FAILED',
        reason: 'DKIM <b>fail</b>',
        auth: 'dkim=fail',
        heldAt: new Date().toISOString(),
      },
    ]),
  release: (id: string): Promise<void> => {
    released.push(id);
    return Promise.resolve();
  },
};

const publicRoutes: FastifyPluginAsync = (scope) => {
  scope.get('/subscribe', (_req, reply) => reply.send('subscribe form'));
  return Promise.resolve();
};

beforeAll(async () => {
  h = await startHarness({ ADMIN_PASSWORD: PASSWORD, ADMIN_TOKEN: TOKEN });
  // Five 500s: every attempt of the first summary fails, and the job ends in the failed set.
  h.llm.enqueue(...Array.from({ length: 5 }, () => ({ status: 500 })));
  app = await h.start();
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2024-01-26.eml'), { kind: 'cli', ref: 'fails' });
  const [failed] = await waitFor('the failed summary', async () => {
    const jobs = await app.pipeline.queues.summarize.getFailed();
    return jobs.length === 1 ? jobs : undefined;
  });
  failedReportId = failed?.data.reportId ?? '';
  await app.pipeline.enqueueEmail(await emailWithHtmlInIt(), { kind: 'cli', ref: 'xss' });
  await waitFor('the post of the email with HTML in it', () => h.posts().length === 1);
  xssReportId = (h.posts()[0]?.key ?? '').replace('isw-ko-', '');

  routes = [];
  admin = await startAdminServer({
    pipeline: app.pipeline,
    env: h.env,
    logger: app.logger,
    metrics: app.metrics,
    providers: {
      quarantine: fakeQuarantine,
      publicRoutes,
      imapStatus: () => ({
        role: 'active',
        connected: true,
        mailbox: 'isw@example.org/INBOX',
        reconnects: 0,
        lastError: null,
      }),
    },
    listen: { host: '127.0.0.1', port: 0 },
    // The 401 sweep below sends hundreds of wrong tokens from one address; the limit has its own test.
    loginLimit: { maxFailures: 100_000, windowMs: 60_000 },
    onRoute: (route) => routes.push(route),
  });
});

afterAll(async () => {
  await admin.close();
  await h.close();
});

/** Log in through the form; returns the cookie header to send and the CSRF token of the session. */
async function login(base = admin.url): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/admin/login`, {
    method: 'POST',
    body: new URLSearchParams({ password: PASSWORD, next: '/admin/reports' }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  const cookie = setCookie.split(';')[0] ?? '';
  const page = await (await fetch(`${base}/admin/reports`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (csrf === undefined) throw new Error('no CSRF token on the reports page');
  return { cookie, csrf };
}

function concrete(url: string): string {
  return url
    .replace(':queue', 'summarize')
    .replace(/:[A-Za-z]+/g, 'x')
    .replace('*', 'x');
}

describe('authentication', () => {
  it('answers 401 on every admin route without credentials, and with a wrong token or cookie', async () => {
    const adminRoutes = routes.filter((r) => r.url.startsWith('/admin') && !r.url.startsWith('/admin/login'));
    // The pages, the API and bull-board's own routes (its UI, API and assets) are all there.
    expect(adminRoutes.length).toBeGreaterThan(30);
    expect(adminRoutes.some((r) => r.url.startsWith('/admin/queues/api/'))).toBe(true);
    expect(adminRoutes.some((r) => r.url.startsWith('/admin/queues/static'))).toBe(true);
    const wrong: Record<string, string>[] = [
      {},
      { authorization: 'Bearer not-the-token-at-all-0000000000000000' },
      { cookie: 'isw_ko_admin=v1.99999999999999.abc.forged' },
    ];
    for (const route of adminRoutes) {
      for (const headers of wrong) {
        const res = await fetch(`${admin.url}${concrete(route.url)}`, {
          method: route.method,
          headers,
          ...(route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH'
            ? { body: '' }
            : {}),
        });
        expect(res.status, `${route.method} ${route.url} with ${JSON.stringify(headers)}`).toBe(401);
        await res.arrayBuffer();
      }
    }
  }, 60_000);

  it('shows the login form (with 401) to a browser, and a bad password does not log in', async () => {
    const page = await fetch(`${admin.url}/admin/reports`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('관리자 비밀번호');
    const res = await fetch(`${admin.url}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ password: 'wrong password!!' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('비밀번호가 틀렸습니다');
  });

  it('keeps unknown admin paths behind the login too', async () => {
    expect((await fetch(`${admin.url}/admin/no-such-page`)).status).toBe(401);
    const { cookie } = await login();
    const res = await fetch(`${admin.url}/admin/no-such-page`, { headers: { cookie } });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('페이지가 없습니다');
  });

  it('accepts the bearer token on the API', async () => {
    const res = await fetch(`${admin.url}/admin/api/reports`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { reports: { id: string }[] };
    expect(body.reports.map((r) => r.id)).toEqual(expect.arrayContaining([failedReportId, xssReportId]));
  });

  it('refuses a form without its CSRF token, and a cross-site one', async () => {
    const { cookie, csrf } = await login();
    const noToken = await fetch(`${admin.url}/admin/reports/${failedReportId}/resummarize`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({}),
      redirect: 'manual',
    });
    expect(noToken.status).toBe(403);
    const crossSite = await fetch(`${admin.url}/admin/reports/${failedReportId}/resummarize`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(crossSite.status).toBe(403);
    // Neither reached the queue.
    expect(await app.pipeline.queues.summarize.getJobCounts('waiting', 'active')).toEqual({
      waiting: 0,
      active: 0,
    });
  });

  it('rate-limits failed logins per address and refuses even the right password while blocked', async () => {
    const limited = await startAdminServer({
      pipeline: app.pipeline,
      env: h.env,
      logger: app.logger,
      metrics: new Metrics({ defaultMetrics: false }),
      listen: { host: '127.0.0.1', port: 0 },
      loginLimit: { maxFailures: 3, windowMs: 60_000 },
    });
    try {
      const attempt = (password: string) =>
        fetch(`${limited.url}/admin/login`, {
          method: 'POST',
          body: new URLSearchParams({ password }),
          redirect: 'manual',
        });
      for (let i = 0; i < 3; i += 1) expect((await attempt('wrong password!!')).status).toBe(401);
      const blocked = await attempt(PASSWORD);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(blocked.headers.get('set-cookie')).toBeNull();
    } finally {
      await limited.close();
    }
  });
});

describe('pages and buttons', () => {
  it('renders the reports page in Korean with each stage', async () => {
    const { cookie } = await login();
    const res = await fetch(`${admin.url}/admin/reports`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('<html lang="ko">');
    expect(html).toContain('요약 실패');
    expect(html).toContain('게시 완료');
    expect(html).toContain(`/admin/reports/${failedReportId}`);
  });

  it('renders a report with its post preview, summary JSON, tokens and links', async () => {
    const { cookie } = await login();
    const html = await (
      await fetch(`${admin.url}/admin/reports/${xssReportId}`, { headers: { cookie } })
    ).text();
    expect(html).toContain('<iframe class="preview" title="게시글 미리보기" sandbox srcdoc="');
    expect(html).toContain('요약 JSON');
    expect(html).toContain('key_takeaways_ko');
    expect(html).toMatch(/합계<\/dt><dd>\d+<\/dd>/);
    expect(html).toContain('href="https://understandingwar.org/research/');
    expect(html).toContain('요약 다시 실행');
    expect(html).toContain('다시 게시');
    expect(html).not.toContain('파서 경고');
    // ROCA 2024-01-26 has no date line in its body: the parser's warning is on its page.
    const dated = await (
      await fetch(`${admin.url}/admin/reports/${failedReportId}`, { headers: { cookie } })
    ).text();
    expect(dated).toContain('파서 경고');
    expect(dated).toContain('no date line was found in the body');
  });

  it('re-runs a failed summary from its button; the report is then posted once', async () => {
    const { cookie, csrf } = await login();
    const before = h.posts().length;
    const res = await fetch(`${admin.url}/admin/reports/${failedReportId}/resummarize`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    // The failed job is retried, and the report has no post yet: the notice must not promise an edit.
    const location = `/admin/reports/${failedReportId}?notice=resummarize-retried.then-post`;
    expect(res.headers.get('location')).toBe(location);
    await waitFor('the post of the re-run report', () => h.posts().length === before + 1);
    // The failed job was retried in place: nothing is left in the failed set.
    expect(await app.pipeline.queues.summarize.getFailed()).toHaveLength(0);
    const page = await (await fetch(`${admin.url}${location}`, { headers: { cookie } })).text();
    expect(page).toContain('실패했던 요약 작업을 다시 실행하도록 예약했습니다.');
    expect(page).toContain('아직 게시글이 없으므로 끝나면 새로 게시됩니다.');
    expect(page).not.toContain('게시글이 수정됩니다');
  });

  it('re-summarises and re-posts a published report by editing its post, never adding one', async () => {
    const { cookie, csrf } = await login();
    const posts = h.posts().length;
    const first = await app.pipeline.store.getPost(xssReportId, 'file');
    const summary = await app.pipeline.store.getSummary(xssReportId);
    const press = (action: string) =>
      fetch(`${admin.url}/admin/reports/${xssReportId}/${action}`, {
        method: 'POST',
        headers: { cookie },
        body: new URLSearchParams({ _csrf: csrf }),
        redirect: 'manual',
      });
    const resummarized = await press('resummarize');
    expect(resummarized.status).toBe(303);
    expect(resummarized.headers.get('location')).toBe(
      `/admin/reports/${xssReportId}?notice=resummarize.then-edit`,
    );
    await waitFor(
      'the edited post',
      async () => (await app.pipeline.store.getPost(xssReportId, 'file'))?.revisions === 2,
    );
    expect((await app.pipeline.store.getSummary(xssReportId))?.createdAt).not.toBe(summary?.createdAt);
    const reposted = await press('repost');
    expect(reposted.status).toBe(303);
    expect(reposted.headers.get('location')).toBe(`/admin/reports/${xssReportId}?notice=repost.then-edit`);
    await waitFor(
      'the post edited again',
      async () => (await app.pipeline.store.getPost(xssReportId, 'file'))?.revisions === 3,
    );
    const last = await app.pipeline.store.getPost(xssReportId, 'file');
    expect(last?.id).toBe(first?.id);
    expect(last?.url).toBe(first?.url);
    expect(h.posts()).toHaveLength(posts);
  });

  it('lists failed jobs and retries one from the jobs page', async () => {
    h.llm.enqueue(...Array.from({ length: 5 }, () => ({ status: 500 })));
    await app.pipeline.enqueueEmail(readFixture('isw-iran-update-2025-05-14.eml'), {
      kind: 'cli',
      ref: 'fails-too',
    });
    const [job] = await waitFor('another failed summary', async () => {
      const jobs = await app.pipeline.queues.summarize.getFailed();
      return jobs.length === 1 ? jobs : undefined;
    });
    const { cookie, csrf } = await login();
    const page = await (
      await fetch(`${admin.url}/admin/jobs?state=failed&queue=summarize`, { headers: { cookie } })
    ).text();
    expect(page).toContain(job?.id ?? '∅');
    expect(page).toContain('5/5');
    expect(page).toContain('answered 500');
    const before = h.posts().length;
    const res = await fetch(`${admin.url}/admin/jobs/summarize/${job?.id ?? ''}/retry`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    await waitFor('the post after the retry', () => h.posts().length === before + 1);
  });

  it('holds a report from its page (nothing is posted) and releases it from the quarantine page', async () => {
    const raw = readFixture('isw-roca-2025-03-02.eml');
    const reportId = reportIdOf(await parseEmail(raw));
    const { cookie, csrf } = await login();
    const before = h.posts().length;
    h.llm.enqueue({ slow: 1500 });
    await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'held' });
    await waitFor('the parsed report', async () => (await app.pipeline.store.getReport(reportId)) !== null);
    const hold = await fetch(`${admin.url}/admin/reports/${reportId}/hold`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf, reason: '<b>번역 확인</b>' }),
      redirect: 'manual',
    });
    expect(hold.status).toBe(303);
    expect(hold.headers.get('location')).toBe(`/admin/reports/${reportId}?notice=held`);
    // The summary is still made; the post is not.
    await waitFor(
      'the held publish',
      async () => (await app.pipeline.store.getStages(reportId)).publish?.state === 'held',
    );
    expect(await app.pipeline.store.getSummary(reportId)).not.toBeNull();
    expect(h.posts()).toHaveLength(before);
    const page = await (
      await fetch(`${admin.url}/admin/reports/${reportId}`, { headers: { cookie } })
    ).text();
    expect(page).toContain('보류 중');
    expect(page).toContain('&lt;b&gt;번역 확인&lt;/b&gt;');
    expect(page).toContain('stage-held');
    expect(page).toContain(`/admin/reports/${reportId}/unhold`);
    // 다시 게시 on a held report: the notice says it waits for the release (the log says so too).
    const repost = await fetch(`${admin.url}/admin/reports/${reportId}/repost`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(repost.headers.get('location')).toBe(`/admin/reports/${reportId}?notice=repost-held`);
    const notice = await (
      await fetch(`${admin.url}/admin/reports/${reportId}?notice=repost-held`, { headers: { cookie } })
    ).text();
    expect(notice).toContain(
      '보고서가 보류 중이라 지금은 게시하지 않습니다. 다시 게시는 보류를 풀 때 이루어집니다.',
    );
    expect(notice).not.toContain('기존 글이 수정됩니다');
    await waitFor('the held re-post', async () => {
      const c = await app.pipeline.queues.publish.getJobCounts('waiting', 'active', 'delayed');
      return c.waiting === 0 && c.active === 0 && c.delayed === 0;
    });
    expect(h.posts()).toHaveLength(before);
    const list = await (await fetch(`${admin.url}/admin/reports`, { headers: { cookie } })).text();
    expect(list).toContain('보류한 보고서 1건');
    const quarantine = await (await fetch(`${admin.url}/admin/quarantine`, { headers: { cookie } })).text();
    expect(quarantine).toContain(`/admin/reports/${reportId}/unhold`);
    expect(quarantine).toContain('admin page');

    const release = await fetch(`${admin.url}/admin/reports/${reportId}/unhold`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf, back: 'quarantine' }),
      redirect: 'manual',
    });
    expect(release.status).toBe(303);
    expect(release.headers.get('location')).toBe('/admin/quarantine?notice=unheld');
    await waitFor('the post after the release', () => h.posts().length === before + 1);
    expect(await app.pipeline.holds.list()).toEqual([]);
    // The board writes the post file before the job records its stage: wait for that too.
    await waitFor(
      'the publish stage done',
      async () => (await app.pipeline.store.getStages(reportId)).publish?.state === 'done',
    );
    // Releasing again says it is not held (the API answers with the error's code).
    const again = await fetch(`${admin.url}/admin/api/reports/${reportId}/unhold`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('REPORT_NOT_HELD');
  });

  it('shows held emails and releases one', async () => {
    const { cookie, csrf } = await login();
    const page = await (await fetch(`${admin.url}/admin/quarantine`, { headers: { cookie } })).text();
    expect(page).toContain('spoof@understandingwar.org');
    const res = await fetch(`${admin.url}/admin/quarantine/held-1/release`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(released).toEqual(['held-1']);
  });

  it('serves bull-board behind the same login', async () => {
    const { cookie } = await login();
    const ui = await fetch(`${admin.url}/admin/queues/`, { headers: { cookie } });
    expect(ui.status).toBe(200);
    const html = await ui.text();
    expect(html).toContain('<base href="/admin/queues/"');
    const script = /src="(static\/js\/main[^"]+)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${admin.url}/admin/queues/${script ?? ''}`, { headers: { cookie } });
    expect(asset.status).toBe(200);
    await asset.arrayBuffer();
    const api = await fetch(
      `${admin.url}/admin/queues/api/queues?activeQueue=summarize&status=completed&page=1`,
      { headers: { cookie } },
    );
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['ingest', 'publish', 'summarize']);
  });

  it('shows HTML from an email as text on every page', async () => {
    const { cookie } = await login();
    const pages = [
      '/admin/reports',
      `/admin/reports/${xssReportId}`,
      '/admin/jobs?state=completed',
      '/admin/quarantine',
    ];
    for (const url of pages) {
      const html = await (await fetch(`${admin.url}${url}`, { headers: { cookie } })).text();
      // Not one script element or event handler anywhere: the pages have none of their own.
      expect(html, url).not.toMatch(/<script/i);
      expect(html, url).not.toMatch(/<img/i);
      expect(html, url).not.toMatch(/<b>/);
    }
    const detail = await (
      await fetch(`${admin.url}/admin/reports/${xssReportId}`, { headers: { cookie } })
    ).text();
    // The summary JSON and the title show the markup as text…
    expect(detail).toContain('&lt;b&gt;bold&lt;/b&gt;');
    // …and the preview holds it escaped twice: once by the post renderer, once as an attribute.
    expect(detail).toContain('&amp;lt;script&amp;gt;window.__xss');
    const held = await (await fetch(`${admin.url}/admin/quarantine`, { headers: { cookie } })).text();
    expect(held).toContain('&lt;script&gt;window.__xss&#x3D;3&lt;/script&gt;');
    const report = await app.pipeline.store.getReport(xssReportId);
    expect(report?.report.keyTakeaways[0]).toContain('<script>');
  });
});

describe('public routes, probes and metrics', () => {
  it('serves the public routes without a login', async () => {
    const res = await fetch(`${admin.url}/subscribe`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('subscribe form');
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${admin.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${admin.url}/readyz`);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(ready.status).toBe(200);
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(['imap', 'redis', 'workers']);
  });

  it('says not ready when the IMAP watcher is down', async () => {
    const down = await startAdminServer({
      pipeline: app.pipeline,
      env: h.env,
      logger: app.logger,
      metrics: new Metrics({ defaultMetrics: false }),
      providers: {
        imapStatus: () => ({
          role: 'active',
          connected: false,
          mailbox: 'isw@example.org/INBOX',
          reconnects: 4,
          lastError: { message: 'authentication failed' },
        }),
      },
      listen: { host: '127.0.0.1', port: 0 },
    });
    try {
      const res = await fetch(`${down.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: { imap: { ok: boolean; detail: string } } };
      expect(body.checks.imap).toEqual({ ok: false, detail: 'active, not connected: authentication failed' });
    } finally {
      await down.close();
    }
  });

  it('exports the metrics in Prometheus format, behind the token', async () => {
    expect((await fetch(`${admin.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${admin.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^isw_ko_jobs_completed_total\{queue="summarize"\} [1-9]/m);
    expect(text).toMatch(/^isw_ko_jobs_failed_total\{queue="summarize",final="true"\} [1-9]/m);
    expect(text).toMatch(/^isw_ko_job_duration_seconds_count\{queue="publish",outcome="completed"\} [1-9]/m);
    expect(text).toMatch(/^isw_ko_llm_tokens_total [1-9]/m);
    expect(text).toMatch(/^isw_ko_llm_errors_total\{code="LLM_[A-Z_]+"\} [1-9]/m);
    expect(text).toMatch(/^isw_ko_queue_jobs\{queue="publish",state="completed"\} [1-9]/m);
    expect(text).toContain('# TYPE isw_ko_emails_sent_total counter');
    expect(text).toContain('# TYPE isw_ko_imap_reconnects_total counter');
  });

  it('keeps the admin pages off without a password, and says so', async () => {
    const off = await startAdminServer({
      pipeline: app.pipeline,
      env: { ...h.env, ADMIN_PASSWORD: undefined },
      logger: app.logger,
      metrics: new Metrics({ defaultMetrics: false }),
      listen: { host: '127.0.0.1', port: 0 },
    });
    try {
      const res = await fetch(`${off.url}/admin/reports`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { message: string }).message).toContain('ADMIN_PASSWORD');
      expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
