// Covers the admin pages in a real browser (Debian's Chromium through playwright-core): log in, open the reports page, re-run a failed summary and see it succeed; no script from an email runs.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAdminServer, type RunningAdminServer } from '../../src/admin/server.js';
import type { App } from '../../src/cli/app.js';
import { readFixture, REPO_ROOT } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const PASSWORD = 'browser test password';
const OUTPUT_DIR = path.join(REPO_ROOT, 'tests/output');

let h: PipelineHarness;
let app: App;
let admin: RunningAdminServer;
let context: BrowserContext | null = null;
let profile: string | null = null;
let reportId: string;

beforeAll(async () => {
  h = await startHarness({ ADMIN_PASSWORD: PASSWORD });
  h.llm.enqueue(...Array.from({ length: 5 }, () => ({ status: 500 })));
  app = await h.start();
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'browser' });
  const [failed] = await waitFor('the failed summary', async () => {
    const jobs = await app.pipeline.queues.summarize.getFailed();
    return jobs.length === 1 ? jobs : undefined;
  });
  reportId = failed?.data.reportId ?? '';
  admin = await startAdminServer({
    pipeline: app.pipeline,
    env: h.env,
    logger: app.logger,
    metrics: app.metrics,
    listen: { host: '127.0.0.1', port: 0 },
  });
  mkdirSync(OUTPUT_DIR, { recursive: true });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await admin.close();
  await h.close();
  if (profile !== null) rmSync(profile, { recursive: true, force: true });
});

/**
 * The browser, started on first use. Checked inside each test rather than in `beforeAll`, so a
 * missing Chromium fails the tests with the fix (a failing hook would only mark them skipped).
 */
async function browser(): Promise<BrowserContext> {
  if (context !== null) return context;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_BIN)`);
  }
  profile = mkdtempSync(path.join(tmpdir(), 'isw-ko-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return context;
}

/** A page that fails the test on any dialog (alert from an injected script) or page error. */
async function newPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser()).newPage();
  const problems: string[] = [];
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { page, problems };
}

it('logs in, opens the reports page, re-runs a failed summary and sees it succeed', async () => {
  const { page, problems } = await newPage();
  await page.goto(`${admin.url}/admin/reports`);
  expect(await page.locator('h1').innerText()).toBe('isw-ko 관리자 로그인');
  await page.fill('#password', PASSWORD);
  // The login form is at /admin/login; a successful login lands on the reports page.
  await Promise.all([page.waitForResponse(`${admin.url}/admin/login`), page.click('button[type=submit]')]);
  await page.waitForURL(`${admin.url}/admin/reports`);
  expect(await page.locator('h1').innerText()).toBe('보고서');
  expect(await page.locator(`tr:has(a[href="/admin/reports/${reportId}"]) .stage-failed`).innerText()).toBe(
    '요약 실패',
  );
  await page.screenshot({ path: path.join(OUTPUT_DIR, 'admin-browser-reports.png'), fullPage: true });

  await Promise.all([
    page.waitForURL(`**/admin/reports/${reportId}`),
    page.click(`a[href="/admin/reports/${reportId}"]`),
  ]);
  await Promise.all([
    page.waitForURL(`**/admin/reports/${reportId}?notice=resummarize-retried.then-post`),
    page.click('button[data-action=resummarize]'),
  ]);
  // The failed job is retried; the report has no post yet, so none is said to be edited.
  expect(await page.locator('.notice').innerText()).toBe(
    '실패했던 요약 작업을 다시 실행하도록 예약했습니다. 아직 게시글이 없으므로 끝나면 새로 게시됩니다.',
  );

  // The page has no script of its own: reload until the stages say the summary and post are done.
  await waitFor('the summary and the post to show as done', async () => {
    await page.reload();
    const stages = await page.locator('main > p').first().innerText();
    return stages.includes('요약 완료') && stages.includes('게시 완료');
  });
  expect(await page.locator('#summary-json').innerText()).toContain('key_takeaways_ko');
  const preview = page.frameLocator('iframe.preview');
  expect(await preview.locator('h1').innerText()).toContain(
    '[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일',
  );
  await page.screenshot({ path: path.join(OUTPUT_DIR, 'admin-browser-report.png'), fullPage: true });
  // A full-page shot leaves an iframe below the fold blank in headless Chromium: the preview on its own.
  await page
    .locator('iframe.preview')
    .screenshot({ path: path.join(OUTPUT_DIR, 'admin-browser-preview.png') });
  expect(h.posts()).toHaveLength(1);

  // Hold it with a reason, then release it from the 격리함 page.
  await page.fill('input[name=reason]', '지명 표기 확인');
  await Promise.all([
    page.waitForURL(`**/admin/reports/${reportId}?notice=held`),
    page.click('button[data-action=hold]'),
  ]);
  expect(await page.locator('.hold').innerText()).toContain('지명 표기 확인');
  await page.goto(`${admin.url}/admin/quarantine`);
  await Promise.all([
    page.waitForURL('**/admin/quarantine?notice=unheld'),
    page.click(`form[action="/admin/reports/${reportId}/unhold"] button`),
  ]);
  expect(await page.locator('.notice').innerText()).toContain('보류를 풀었습니다');
  expect(await app.pipeline.holds.list()).toEqual([]);
  expect(h.posts()).toHaveLength(1);
  expect(problems).toEqual([]);
}, 60_000);

it('shows a <script> from a takeaway as text and never runs it', async () => {
  const before = h.posts().length;
  await app.pipeline.enqueueEmail(readFixture('isw-iran-update-2025-05-14.eml'), { kind: 'cli', ref: 'xss' });
  await waitFor('the post', () => h.posts().length === before + 1);
  const ids = await app.pipeline.store.listReports();
  const id = ids.find((i) => i !== reportId) ?? '';
  const stored = await app.pipeline.store.getReport(id);
  const summary = await app.pipeline.store.getSummary(id);
  if (stored === null || summary === null) throw new Error('the report is not stored');
  const script = '<script>alert("xss")</script><img src=x onerror="alert(1)">';
  await app.pipeline.store.putReport(id, stored.emailId, {
    ...stored.report,
    title: `${stored.report.title} ${script}`,
    keyTakeaways: stored.report.keyTakeaways.map((t, i) => (i === 0 ? `${script} ${t}` : t)),
  });
  await app.pipeline.store.putSummary({
    ...summary,
    summary: {
      ...summary.summary,
      key_takeaways_ko: summary.summary.key_takeaways_ko.map((t, i) => (i === 0 ? `${script} ${t}` : t)),
    },
  });
  const { page, problems } = await newPage();
  // Logged in already when the first test ran before (the profile keeps its cookie); else log in.
  await page.goto(`${admin.url}/admin/login`);
  if (page.url().endsWith('/admin/login')) {
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${admin.url}/admin/reports`), page.click('button[type=submit]')]);
  }
  for (const url of ['/admin/reports', `/admin/reports/${id}`, '/admin/jobs?state=completed']) {
    await page.goto(`${admin.url}${url}`);
    expect(await page.locator('main').innerText(), url).toContain('<script>alert("xss")</script>');
    expect(await page.locator('main img').count(), url).toBe(0);
  }
  await page.goto(`${admin.url}/admin/reports/${id}`);
  expect(await page.locator('#summary-json').innerText()).toContain('<script>alert(\\"xss\\")</script>');
  const preview = page.frameLocator('iframe.preview');
  expect(await preview.locator('body').innerText()).toContain('<script>alert("xss")</script>');
  expect(await preview.locator('img').count()).toBe(0);
  await page.screenshot({ path: path.join(OUTPUT_DIR, 'admin-browser-xss.png'), fullPage: true });
  expect(problems).toEqual([]);
}, 60_000);
