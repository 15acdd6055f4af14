// Covers what the admin pages and `jobs list` show: stage views, ages, links, notices, the listen address, readiness of the IMAP watcher, and every admin template escaping hostile text.
import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/admin/admin-settings.js';
import { loadAdminTemplates } from '../../src/admin/admin-templates.js';
import { imapReady } from '../../src/admin/ops-routes.js';
import type { JobRow } from '../../src/admin/operations.js';
import { stateLabel } from '../../src/admin/operations.js';
import {
  ageShort,
  agoKo,
  durationShort,
  inKo,
  jobRowView,
  linkTo,
  noticeFor,
  reprocessNotice,
  stageViews,
} from '../../src/admin/views.js';
import { formatJobRows } from '../../src/cli/jobs.js';

/** A job row with defaults, for the formatters. */
function row(overrides: Partial<JobRow>): JobRow {
  return {
    queue: 'summarize',
    id: 'summarize-m1',
    state: 'failed',
    reportId: 'm1',
    title: 'Russian Offensive Campaign Assessment, March 2, 2025',
    attemptsMade: 5,
    attempts: 5,
    gaveUp: false,
    lastError: null,
    waitReason: null,
    runAt: null,
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    holder: null,
    lockTtlMs: null,
    ...overrides,
  };
}

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
      next: null,
    });
  });

  it('says why a waiting summary waits and when it tries again', () => {
    const now = Date.parse('2025-03-03T00:46:00Z');
    const [, summarized] = stageViews(
      {
        summarize: {
          state: 'waiting',
          at: '2025-03-03T00:46:00Z',
          detail: 'The LLM server at http://llm:8080/v1 is not reachable.',
          retryAt: '2025-03-03T00:48:00Z',
          jobId: 'summarize-m1',
        },
      },
      null,
      now,
    );
    expect(summarized).toMatchObject({
      state: 'waiting',
      stateLabel: '재시도 대기',
      detail: 'The LLM server at http://llm:8080/v1 is not reachable.',
      next: '다음 시도 2025년 3월 3일 09:48 KST (2분 뒤)',
    });
    // Once the time has come (or an admin ran it now), no time in the past.
    const [, due] = stageViews(
      { summarize: { state: 'waiting', at: '2025-03-03T00:46:00Z', retryAt: '2025-03-03T00:45:00Z' } },
      null,
      now,
    );
    expect(due?.next).toBe('다음 시도: 곧 (작업자가 가져가는 대로)');
  });
});

describe('job rows', () => {
  const now = Date.UTC(2025, 2, 3, 12);

  it('labels prioritized jobs apart from waiting ones', () => {
    expect(stateLabel('waiting')).toBe('대기');
    expect(stateLabel('prioritized')).toBe('우선 대기');
  });

  it('says a job that gave up early gets no more retries, and offers 지금 실행 for a delayed one', () => {
    const gaveUp = jobRowView(
      row({ attemptsMade: 1, gaveUp: true, finishedAt: now - 5_000, createdAt: now - 3_600_000 }),
      now,
      '실패',
    );
    expect(gaveUp.attemptsText).toBe('1/5 (재시도 안 함)');
    expect(gaveUp.lastActivity).toBe('끝남 5초 전');
    expect(gaveUp.action).toMatchObject({ label: '다시 시도', kind: 'retry' });
    const delayed = jobRowView(
      row({
        state: 'delayed',
        attemptsMade: 0,
        waitReason: 'The LLM server is not reachable.',
        runAt: now + 25_000,
        startedAt: now - 5_000,
        createdAt: now - 60_000,
      }),
      now,
      '지연',
    );
    expect(delayed).toMatchObject({
      attemptsText: '0/5',
      waitText: 'The LLM server is not reachable.',
      lastActivity: '마지막 시도 5초 전',
      next: '다음 시도 25초 뒤 (2025년 3월 3일 21:00 KST)',
      action: { href: '/admin/jobs/summarize/summarize-m1/retry', label: '지금 실행', kind: 'promote' },
    });
    // The same text as the last error is not shown twice; a job retried by hand says when it was added.
    const retried = jobRowView(
      row({ state: 'waiting', lastError: 'x', waitReason: 'x', createdAt: now - 60_000 }),
      now,
      '대기',
    );
    expect(retried).toMatchObject({ waitText: null, lastActivity: '추가 1분 전', action: null });
  });

  it('says when the worker of a running job is gone and when the job runs again', () => {
    const gone = jobRowView(
      row({ state: 'active', holder: 'gone', lockTtlMs: 250_000, startedAt: now - 20_000 }),
      now,
      '처리 중',
    );
    expect(gone.lastActivity).toBe('시작 20초 전');
    expect(gone.holderNote).toContain('더 이상 연결되어 있지 않습니다');
    expect(gone.holderNote).toContain('잠금이 4분 뒤 풀리면');
    expect(jobRowView(row({ state: 'active', holder: 'alive' }), now, '처리 중').holderNote).toBeNull();
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
    expect(inKo(3 * 60_000)).toBe('3분 뒤');
    expect(durationShort(250_000)).toBe('4m10s');
    expect(durationShort(42_000)).toBe('42s');
    expect(durationShort(120_000)).toBe('2m');
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
    expect(noticeFor('resummarize.<script>')).toBeNull();
    expect(noticeFor('resummarize.then-post')).toBe(
      '요약을 다시 실행하도록 예약했습니다. 아직 게시글이 없으므로 끝나면 새로 게시됩니다.',
    );
  });

  it('says after 요약 다시 실행 and 다시 게시 what happened to the job and what the post gets', () => {
    const notice = (...args: Parameters<typeof reprocessNotice>): string | null =>
      noticeFor(reprocessNotice(...args));
    expect(notice('summarize', { job: 'added', then: 'edit' })).toBe(
      '요약을 다시 실행하도록 예약했습니다. 끝나면 기존 게시글이 수정됩니다.',
    );
    expect(notice('summarize', { job: 'promoted', then: 'post' })).toMatch(
      /이미 기다리고 있어 새 작업을 추가하지 않고.*아직 게시글이 없으므로 끝나면 새로 게시됩니다/,
    );
    expect(notice('summarize', { job: 'running', then: 'held' })).toMatch(
      /이미 실행 중이라 새 작업을 추가하지 않았습니다.*보류 중이라/,
    );
    expect(notice('publish', { job: null, then: 'held' })).toBe(
      '보고서가 보류 중이라 지금은 게시하지 않습니다. 다시 게시는 보류를 풀 때 이루어집니다.',
    );
    expect(notice('publish', { job: null, then: 'edit' })).toBe(
      '게시글을 다시 올리도록 예약했습니다. 끝나면 기존 게시글이 수정됩니다.',
    );
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

  it('prints `jobs list` rows with title, attempts, last activity and last error or why it waits', () => {
    const now = Date.UTC(2025, 2, 3, 12);
    const text = formatJobRows(
      [
        row({
          lastError: 'LLM answered 500.\nCheck the server.',
          createdAt: now - 125_000,
          startedAt: now - 3_000,
          finishedAt: now - 2_000,
        }),
      ],
      'failed',
      now,
    );
    expect(text).toBe(
      'summarize/summarize-m1  attempts 5/5  finished 2s ago  Russian Offensive Campaign Assessment, March 2, 2025\n' +
        '    report: m1\n' +
        '    last error: LLM answered 500. Check the server.\n',
    );
    expect(formatJobRows([], 'delayed', now)).toBe('no delayed jobs\n');
    expect(
      formatJobRows(
        [row({ attemptsMade: 1, gaveUp: true, finishedAt: now, lastError: 'LLM_AUTH: …' })],
        'failed',
        now,
      ),
    ).toContain('attempts 1/5 (failed for good: no more retries)  finished 0s ago');
    expect(
      formatJobRows(
        [
          row({
            state: 'delayed',
            attemptsMade: 0,
            createdAt: now - 60_000,
            runAt: now + 25_000,
            waitReason: 'The LLM server at http://llm/v1 is not reachable.',
          }),
        ],
        'delayed',
        now,
      ),
    ).toBe(
      'summarize/summarize-m1  attempts 0/5  added 1m ago, runs in 25s  Russian Offensive Campaign Assessment, March 2, 2025\n' +
        '    report: m1\n' +
        '    waiting: The LLM server at http://llm/v1 is not reachable.\n',
    );
    expect(
      formatJobRows(
        [
          row({
            state: 'active',
            attemptsMade: 0,
            startedAt: now - 20_000,
            holder: 'gone',
            lockTtlMs: 250_000,
          }),
        ],
        'active',
        now,
      ),
    ).toContain('started 20s ago  Russian');
    expect(
      formatJobRows([row({ state: 'active', holder: 'gone', lockTtlMs: 250_000 })], 'active', now),
    ).toContain(
      '    worker gone (stopped or killed): it runs again once its lock lapses, in 4m10s (JOB_LOCK_MS)',
    );
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
    next: HOSTILE,
  };
  const job = {
    queue: 'summarize',
    id: HOSTILE,
    title: HOSTILE,
    stateLabel: '실패',
    reportHref: null,
    attemptsText: HOSTILE,
    lastError: HOSTILE,
    waitText: HOSTILE,
    lastActivity: HOSTILE,
    next: HOSTILE,
    holderNote: HOSTILE,
    action: { href: '/admin/jobs/summarize/x/retry', label: '다시 시도', kind: 'retry' },
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
      jobs: [job],
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
      jobs: [job],
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
