// Covers what the admin pages and `jobs list` show: stage views, ages, links, notices, the listen address, readiness of the IMAP watcher, and every admin template escaping hostile text.
import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/admin/admin-settings.js';
import { loadAdminTemplates } from '../../src/admin/admin-templates.js';
import { imapReady } from '../../src/admin/ops-routes.js';
import { ageShort, agoKo, linkTo, noticeFor, stageViews } from '../../src/admin/views.js';
import { formatJobRows } from '../../src/cli/jobs.js';

describe('stageViews', () => {
  it('shows parsed, summarised, posted and mailed, in Korean', () => {
    const views = stageViews(
      {
        ingest: { state: 'done', at: '2025-03-03T00:45:00Z', detail: 'Title' },
        summarize: { state: 'failed', at: '2025-03-03T00:46:00Z', detail: 'LLM down', jobId: 'summarize-x' },
      },
      null,
    );
    expect(views.map((v) => `${v.label} ${v.stateLabel}`)).toEqual([
      '파싱 완료',
      '요약 실패',
      '게시 대기',
      '발송 꺼짐',
    ]);
    expect(views[0]?.at).toBe('2025년 3월 3일 09:45 KST');
    expect(views[1]?.detail).toBe('LLM down');
  });

  it('shows a publish held by an admin as 보류, with who held it', () => {
    const [, , posted] = stageViews(
      { publish: { state: 'held', at: '2025-03-03T00:47:00Z', detail: 'held by cli: check names' } },
      null,
    );
    expect(posted).toMatchObject({ state: 'held', stateLabel: '보류', detail: 'held by cli: check names' });
  });

  it('takes the mailed stage from the notify stage when it is wired in', () => {
    const [, , , mailed] = stageViews({}, { state: 'done', detail: '12 sent', at: null });
    expect(mailed).toEqual({
      key: 'mailed',
      label: '발송',
      state: 'done',
      stateLabel: '완료',
      detail: '12 sent',
      at: null,
    });
  });
});

describe('small formatters', () => {
  it('says how long ago, for people and for the terminal', () => {
    expect(agoKo(5_000)).toBe('5초 전');
    expect(agoKo(3 * 60_000)).toBe('3분 전');
    expect(agoKo(5 * 3_600_000)).toBe('5시간 전');
    expect(agoKo(2 * 86_400_000)).toBe('2일 전');
    expect(ageShort(42_000)).toBe('42s');
    expect(ageShort(3 * 60_000 + 5_000)).toBe('3m');
    expect(ageShort(2 * 3_600_000 + 15 * 60_000)).toBe('2h15m');
    expect(ageShort(3 * 86_400_000)).toBe('3d');
  });

  it('makes links of http(s) URLs only', () => {
    expect(linkTo('https://understandingwar.org/x')).toEqual({
      text: 'https://understandingwar.org/x',
      href: 'https://understandingwar.org/x',
    });
    expect(linkTo('file:///data/board/a.html', 'file').href).toBeNull();
    expect(linkTo('javascript:alert(1)').href).toBeNull();
  });

  it('shows only the notices it knows', () => {
    expect(noticeFor('resummarize')).toContain('요약');
    expect(noticeFor('<script>')).toBeNull();
    expect(noticeFor('toString')).toBeNull();
    expect(noticeFor(['resummarize'])).toBeNull();
  });

  it('parses ADMIN_LISTEN', () => {
    expect(parseListen('127.0.0.1:8787')).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('admin.internal:80')).toEqual({ host: 'admin.internal', port: 80 });
  });

  it('says when the IMAP watcher is ready', () => {
    const base = { mailbox: 'm', reconnects: 0, lastError: null };
    expect(imapReady({ ...base, role: 'active', connected: true }).ok).toBe(true);
    expect(imapReady({ ...base, role: 'standby', connected: false }).ok).toBe(true);
    expect(imapReady({ ...base, role: 'starting', connected: false }).ok).toBe(false);
    expect(
      imapReady({ ...base, role: 'active', connected: false, lastError: { message: 'login refused' } }),
    ).toEqual({
      ok: false,
      detail: 'active, not connected: login refused',
    });
  });

  it('prints `jobs list` rows with title, attempts, age and last error on one line each', () => {
    const now = Date.UTC(2025, 2, 3, 12);
    const text = formatJobRows(
      [
        {
          queue: 'summarize',
          id: 'summarize-m1',
          state: 'failed',
          reportId: 'm1',
          title: 'Russian Offensive Campaign Assessment, March 2, 2025',
          attemptsMade: 5,
          attempts: 5,
          lastError: 'LLM answered 500.\nCheck the server.',
          createdAt: now - 125_000,
          finishedAt: now,
        },
      ],
      'failed',
      now,
    );
    expect(text).toBe(
      'summarize/summarize-m1  attempts 5/5  age 2m  Russian Offensive Campaign Assessment, March 2, 2025\n' +
        '    report: m1\n' +
        '    last error: LLM answered 500. Check the server.\n',
    );
    expect(formatJobRows([], 'delayed', now)).toBe('no delayed jobs\n');
  });
});

describe('admin templates', () => {
  const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'';
  const page = {
    title: HOSTILE,
    nav: true,
    csrf: 'tok',
    notice: HOSTILE,
    error: HOSTILE,
    here: { reports: true, jobs: false, quarantine: false },
  };
  const stage = {
    key: 'parsed',
    label: '파싱',
    state: 'done',
    stateLabel: '완료',
    detail: HOSTILE,
    at: HOSTILE,
  };
  const views: Record<string, object> = {
    login: { page: { ...page, nav: false }, next: HOSTILE },
    message: {
      page,
      heading: HOSTILE,
      message: HOSTILE,
      hint: HOSTILE,
      back: { href: '/admin/reports', text: HOSTILE },
    },
    reports: {
      page,
      reports: [
        {
          id: 'm1',
          href: '/admin/reports/m1',
          title: HOSTILE,
          product: HOSTILE,
          publishedKst: HOSTILE,
          stages: [stage],
          failed: false,
          tokens: 12,
          posts: [{ text: HOSTILE, href: null }],
        },
      ],
      queues: [{ name: 'summarize', failed: 1, waiting: 0, active: 0 }],
      quarantined: 1,
      heldReports: 1,
      tokensThisMonth: 100,
      rejections: [{ emailId: 'e', origin: HOSTILE, code: 'C', reason: HOSTILE, at: HOSTILE }],
      prev: null,
      next: null,
    },
    report: {
      page,
      report: {
        id: 'm1',
        title: HOSTILE,
        source: 'isw',
        product: HOSTILE,
        publishedKst: HOSTILE,
        from: HOSTILE,
        subject: HOSTILE,
        origin: HOSTILE,
        sourceUrl: { text: HOSTILE, href: null },
        warnings: [HOSTILE],
      },
      stages: [stage],
      hold: { by: HOSTILE, reason: HOSTILE, heldKst: HOSTILE },
      hasSummary: true,
      usage: null,
      summaryJson: HOSTILE,
      posts: [],
      preview: { title: HOSTILE, srcdoc: HOSTILE, why: null },
      actions: {
        resummarize: '/admin/reports/m1/resummarize',
        repost: '/admin/reports/m1/repost',
        hold: '/admin/reports/m1/hold',
        unhold: '/admin/reports/m1/unhold',
      },
    },
    jobs: {
      page,
      stateLabel: '실패',
      queue: null,
      states: [{ label: '실패', href: '/admin/jobs?state=failed', here: true }],
      queues: [{ label: '전체', href: '/admin/jobs?state=failed', here: true }],
      jobs: [
        {
          queue: 'summarize',
          id: HOSTILE,
          title: HOSTILE,
          reportHref: null,
          attemptsMade: 5,
          attempts: 5,
          lastError: HOSTILE,
          age: HOSTILE,
          retryAction: '/admin/jobs/summarize/x/retry',
        },
      ],
    },
    quarantine: {
      page,
      heldReports: [
        {
          reportId: 'm1',
          title: HOSTILE,
          by: HOSTILE,
          reason: HOSTILE,
          heldKst: HOSTILE,
          href: '/admin/reports/m1',
          unholdAction: '/admin/reports/m1/unhold',
        },
      ],
      configured: true,
      held: [
        {
          id: 'h',
          ref: HOSTILE,
          from: HOSTILE,
          subject: HOSTILE,
          code: 'AUTH_FAILED',
          reason: HOSTILE,
          auth: HOSTILE,
          heldKst: HOSTILE,
          releaseAction: '/admin/quarantine/h/release',
        },
      ],
    },
  };

  it('renders every page with hostile text shown as text, never as markup', async () => {
    const templates = await loadAdminTemplates();
    for (const [name, view] of Object.entries(views)) {
      const html = templates[name as keyof typeof templates](view);
      expect(html, name).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(html, name).not.toMatch(/<script|<img/i);
      expect(html, name).toContain('<html lang="ko">');
    }
  });

  it('fails loudly on a view that lacks a field (strict templates)', async () => {
    const templates = await loadAdminTemplates();
    expect(() => templates.message({ page })).toThrow(/heading/);
  });
});
