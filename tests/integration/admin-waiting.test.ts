// Covers jobs that wait or hang, as an admin sees them: a summary waiting for an unreachable or rate-limiting LLM says why and when on the report page, the jobs page and `jobs list`; `jobs retry` / 지금 실행 run a delayed job now; 요약 다시 실행 uses the waiting job instead of adding a second; a job that gave up says so; a running job whose worker was killed says so.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/app-error.js';
import { listJobs } from '../../src/admin/operations.js';
import { startAdminServer, type RunningAdminServer } from '../../src/admin/server.js';
import type { App } from '../../src/cli/app.js';
import { registerJobCommands } from '../../src/cli/jobs.js';
import { parseEmail } from '../../src/parse/index.js';
import { reportIdOf } from '../../src/queue/names.js';
import { readFixture, REPO_ROOT } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

const PASSWORD = 'correct horse battery staple';
const FIXTURE = 'isw-roca-2025-03-02.eml';

let h: PipelineHarness;
let admin: RunningAdminServer | null = null;
let child: ChildProcess | null = null;
let proxy: net.Server | null = null;
afterEach(async () => {
  child?.kill('SIGKILL');
  child = null;
  await admin?.close();
  admin = null;
  const running = proxy;
  if (running !== null) await new Promise((resolve) => running.close(resolve));
  proxy = null;
  await h.close();
});

/** A loopback port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** "The LLM is back": forward `port` to the test LLM server. */
async function forward(port: number, to: string): Promise<net.Server> {
  const target = Number(new URL(to).port);
  const server = net.createServer((socket) => {
    const upstream = net.connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    // Either side going away ends the other; the errors themselves are expected (resets on close).
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** The job commands in this process, writing into a string; a refused command rejects. */
async function jobsCli(...args: string[]): Promise<string> {
  let out = '';
  const program = new Command('isw-ko').exitOverride();
  registerJobCommands(program, {
    open: () => h.start({ workers: [] }),
    write: (text) => (out += text),
  });
  await program.parseAsync(args, { from: 'user' });
  return out;
}

/** The same, for a command expected to fail: what it printed and the error. */
async function jobsCliFails(...args: string[]): Promise<{ out: string; err: unknown }> {
  let out = '';
  const program = new Command('isw-ko').exitOverride();
  registerJobCommands(program, {
    open: () => h.start({ workers: [] }),
    write: (text) => (out += text),
  });
  const err = await program.parseAsync(args, { from: 'user' }).then(
    () => null,
    (e: unknown) => e,
  );
  return { out, err };
}

async function startAdmin(app: App): Promise<{ get: (url: string) => Promise<string>; post: Poster }> {
  const server = await startAdminServer({
    pipeline: app.pipeline,
    env: h.env,
    logger: app.logger,
    metrics: app.metrics,
    listen: { host: '127.0.0.1', port: 0 },
  });
  admin = server;
  const res = await fetch(`${server.url}/admin/login`, {
    method: 'POST',
    body: new URLSearchParams({ password: PASSWORD, next: '/admin/reports' }),
    redirect: 'manual',
  });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const get = async (url: string): Promise<string> => {
    const page = await fetch(`${server.url}${url}`, { headers: { cookie } });
    expect(page.status, url).toBe(200);
    return page.text();
  };
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await get('/admin/reports'))?.[1] ?? '';
  const post: Poster = async (url, body = {}) => {
    const r = await fetch(`${server.url}${url}`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ _csrf: csrf, ...body }),
      redirect: 'manual',
    });
    return { status: r.status, location: r.headers.get('location') ?? '' };
  };
  return { get, post };
}
type Poster = (url: string, body?: Record<string, string>) => Promise<{ status: number; location: string }>;

/** Every summarize job, whatever its state. */
async function summarizeJobs(app: App): Promise<number> {
  const c = await app.pipeline.queues.summarize.getJobCounts(
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'prioritized',
  );
  return Object.values(c).reduce((a, b) => a + b, 0);
}

const chats = (): number => h.llm.requests.filter((r) => r.path.endsWith('/chat/completions')).length;

describe('a summary waiting for an unreachable LLM', () => {
  let port: number;
  beforeEach(async () => {
    port = await freePort();
    h = await startHarness({
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      ADMIN_PASSWORD: PASSWORD,
    });
  });

  it('says why it waits and when it tries again; 요약 다시 실행 and `jobs retry` run the waiting job now instead of adding one', async () => {
    const app = await h.start();
    const raw = readFixture(FIXTURE);
    const reportId = reportIdOf(await parseEmail(raw));
    const jobId = `summarize-${reportId}`;
    await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'llm-down' });
    const first = await waitFor('the summary to wait for the LLM', async () => {
      const s = (await app.pipeline.store.getStages(reportId)).summarize;
      return s?.state === 'waiting' ? s : undefined;
    });
    expect(first.jobId).toBe(jobId);
    expect(first.detail).toContain(`The LLM server at http://127.0.0.1:${port}/v1 is not reachable`);
    // 30 s by default; no attempt is used.
    const wait = Date.parse(first.retryAt ?? '') - Date.parse(first.at);
    expect(wait).toBeGreaterThanOrEqual(29_000);
    expect(wait).toBeLessThanOrEqual(31_000);

    // The log line: stage and report, the fix once, and how to run it now.
    const line = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.code === 'LLM_UNAVAILABLE' && l.retryInMs !== undefined);
    expect(line).toMatchObject({ stage: 'summarize', reportId, jobId, retryInMs: 30_000 });
    expect(line?.msg).toContain('is not reachable');
    expect(line?.msg).toContain(`isw-ko jobs retry ${jobId}`);
    expect(line?.msg).not.toContain('retry later, or configure');

    const web = await startAdmin(app);
    const report = await web.get(`/admin/reports/${reportId}`);
    expect(report).toContain('요약 재시도 대기');
    expect(report).toContain('is not reachable');
    expect(report).toMatch(/다음 시도 \d{4}년 .* KST \(\d+초 뒤\)/);
    expect(report).toContain('진행 중인 작업');
    expect(report).toContain('data-action="promote"');
    const delayed = await web.get('/admin/jobs?state=delayed');
    expect(delayed).toContain(jobId);
    expect(delayed).toContain('<td>0/5</td>');
    expect(delayed).toContain('대기 이유: The LLM server at');
    expect(delayed).toMatch(/다음 시도 \d+초 뒤/);
    expect(delayed).toContain('>지금 실행</button>');
    const listed = await jobsCli('jobs', 'list', '--state', 'delayed');
    expect(listed).toMatch(
      new RegExp(`^summarize/${jobId}  attempts 0/5  last tried \\d+s ago, runs in \\d+s  `),
    );
    expect(listed).toContain(`    waiting: The LLM server at http://127.0.0.1:${port}/v1 is not reachable.`);

    // 요약 다시 실행 while it waits: no second job; the waiting one runs now (and waits again).
    const pressed = await web.post(`/admin/reports/${reportId}/resummarize`);
    expect(pressed.status).toBe(303);
    expect(pressed.location).toBe(`/admin/reports/${reportId}?notice=resummarize-promoted.then-post`);
    const second = await waitFor('the promoted job to wait again', async () => {
      const s = (await app.pipeline.store.getStages(reportId)).summarize;
      return s?.state === 'waiting' && s.at !== first.at ? s : undefined;
    });
    expect(await summarizeJobs(app)).toBe(1);
    const notice = await web.get(`/admin/reports/${reportId}?notice=resummarize-promoted.then-post`);
    expect(notice).toContain('이미 기다리고 있어 새 작업을 추가하지 않고');
    expect(notice).toContain('아직 게시글이 없으므로 끝나면 새로 게시됩니다.');
    expect(notice).not.toContain('끝나면 기존 게시글이 수정됩니다');
    expect(await jobsCli('reprocess', reportId)).toMatch(
      new RegExp(
        `^${reportId}: summarize: job ${jobId} was already waiting \\(The LLM server at .*\\); it runs now instead of a second job; it is posted when it is ready`,
      ),
    );
    const third = await waitFor('the job to wait again', async () => {
      const s = (await app.pipeline.store.getStages(reportId)).summarize;
      return s?.state === 'waiting' && s.at !== second.at ? s : undefined;
    });

    // 지금 실행 on the jobs page.
    const now = await web.post(`/admin/jobs/summarize/${jobId}/retry`);
    expect(now.location).toBe('/admin/jobs?state=delayed&queue=summarize&notice=promoted');
    await waitFor('the job to wait once more', async () => {
      const s = (await app.pipeline.store.getStages(reportId)).summarize;
      return s?.state === 'waiting' && s.at !== third.at;
    });
    expect(await summarizeJobs(app)).toBe(1);
    expect(h.postCount()).toBe(0);

    // The LLM is back: `jobs retry` runs the job now instead of after its backoff (30 s, 60 s, …).
    proxy = await forward(port, h.llm.url);
    expect(await jobsCli('jobs', 'retry', jobId)).toBe(`summarize/${jobId}: was delayed; runs now\n`);
    await waitFor('the post', () => h.postCount() === 1);
    await waitFor(
      'the summary stage done',
      async () => (await app.pipeline.store.getStages(reportId)).summarize?.state === 'done',
    );
    expect(chats()).toBe(1);
    expect(await summarizeJobs(app)).toBe(1);
    expect(await web.get(`/admin/reports/${reportId}`)).toContain('대기 중이거나 실행 중인 작업이 없습니다.');
    const completed = await jobsCliFails('jobs', 'retry', jobId);
    expect(completed.out).toContain(`job ${jobId} in summarize is completed; nothing to retry`);
    expect(isAppError(completed.err, 'JOB_NOT_RETRIABLE')).toBe(true);
  });
});

describe('a waiting summary whose job was removed', () => {
  beforeEach(async () => {
    h = await startHarness({
      OPENAI_BASE_URL: `http://127.0.0.1:${await freePort()}/v1`,
      ADMIN_PASSWORD: PASSWORD,
    });
  });

  it('no longer promises a next try, and 요약 다시 실행 starts a new job', async () => {
    const app = await h.start();
    const raw = readFixture(FIXTURE);
    const reportId = reportIdOf(await parseEmail(raw));
    await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'removed' });
    await waitFor('the summary to wait for the LLM', async () => {
      const job = await app.pipeline.queues.summarize.getJob(`summarize-${reportId}`);
      return (await job?.getState()) === 'delayed' ? job : undefined;
    });
    // As bull-board's delete button does.
    await app.pipeline.queues.summarize.remove(`summarize-${reportId}`);
    const web = await startAdmin(app);
    const report = await web.get(`/admin/reports/${reportId}`);
    expect(report).toContain('이 작업은 더 이상 대기열에 없습니다');
    expect(report).not.toContain('다음 시도');
    const pressed = await web.post(`/admin/reports/${reportId}/resummarize`);
    expect(pressed.location).toBe(`/admin/reports/${reportId}?notice=resummarize.then-post`);
    expect(await summarizeJobs(app)).toBe(1);
  });
});

describe('a summary the LLM rate-limits', () => {
  beforeEach(async () => {
    h = await startHarness({ ADMIN_PASSWORD: PASSWORD });
  });

  it('says it waits for the rate limit, and the success clears it', async () => {
    h.llm.enqueue({ status: 429, retryAfterSeconds: 3 });
    const app = await h.start();
    const raw = readFixture(FIXTURE);
    const reportId = reportIdOf(await parseEmail(raw));
    await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'rate-limited' });
    const stage = await waitFor('the rate-limited summary', async () => {
      const s = (await app.pipeline.store.getStages(reportId)).summarize;
      return s?.state === 'waiting' ? s : undefined;
    });
    expect(stage.detail).toContain('is rate limiting us (429)');
    expect(Date.parse(stage.retryAt ?? '') - Date.parse(stage.at)).toBe(3_000);
    const [row] = await listJobs(app.pipeline, { state: 'waiting', queue: 'summarize' });
    if (row !== undefined) {
      // Still held back by the limit (it may already be running on a slow machine).
      expect(row.waitReason).toContain('429');
      expect(row.runAt).not.toBeNull();
    }
    await waitFor('the post', () => h.postCount() === 1);
    await waitFor(
      'the summary stage done',
      async () => (await app.pipeline.store.getStages(reportId)).summarize?.state === 'done',
    );
  });
});

describe('jobs that cannot be retried, and jobs that gave up', () => {
  beforeEach(async () => {
    h = await startHarness({ ADMIN_PASSWORD: PASSWORD, JOB_LOCK_MS: '60000' });
  });

  it('says a failed-for-good job gets no more retries, and labels 우선 대기 apart from 대기', async () => {
    // 401: a configuration error, not retried (UnrecoverableError) after one of its five attempts.
    h.llm.enqueue({ status: 401 });
    const app = await h.start();
    await app.pipeline.enqueueEmail(readFixture(FIXTURE), { kind: 'cli', ref: 'bad-key' });
    const [failed] = await waitFor('the failed summary', async () => {
      const jobs = await app.pipeline.queues.summarize.getFailed();
      return jobs.length === 1 ? jobs : undefined;
    });
    expect(failed?.attemptsMade).toBe(1);
    const listed = await jobsCli('jobs', 'list');
    expect(listed).toContain('attempts 1/5 (failed for good: no more retries)  finished ');
    const web = await startAdmin(app);
    const page = await web.get('/admin/jobs?state=failed');
    expect(page).toContain('<td>1/5 (재시도 안 함)</td>');
    expect(page).toContain('<th>마지막 활동</th>');
    expect(page).toMatch(/<td>끝남 \d+초 전<\/td>/);
    const tabs = /<p class="filters">상태:([\s\S]*?)<\/p>/.exec(page)?.[1] ?? '';
    expect(tabs.match(/>대기</g)).toHaveLength(1);
    expect(tabs).toContain('>우선 대기<');
  });

  it('refuses to retry a waiting job, and says when the worker of a running job was killed', async () => {
    // No summarize worker yet: the summary waits in the queue.
    const app = await h.start({ workers: ['ingest', 'publish'] });
    const raw = readFixture(FIXTURE);
    const reportId = reportIdOf(await parseEmail(raw));
    const jobId = `summarize-${reportId}`;
    await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'killed' });
    await waitFor(
      'the waiting summary',
      async () => (await app.pipeline.queues.summarize.getJob(jobId)) !== undefined,
    );
    const waiting = await jobsCliFails('jobs', 'retry', jobId);
    expect(waiting.out).toContain(`job ${jobId} in summarize is already waiting to run; nothing to retry`);
    expect(isAppError(waiting.err, 'JOB_NOT_RETRIABLE')).toBe(true);

    // A worker process takes it (the LLM never answers), and is killed as a forced exit would end it.
    h.llm.enqueue('hang');
    child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/isw-ko.js'), 'worker', '--queues', 'summarize'],
      {
        cwd: h.dir,
        env: { ...process.env, ...h.vars },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(`the worker to ask the LLM (its output: ${output.slice(-300)})`, () => chats() === 1);
    const [alive] = await listJobs(app.pipeline, { state: 'active' });
    expect(alive).toMatchObject({ id: jobId, holder: 'alive' });
    const running = await jobsCliFails('jobs', 'retry', jobId);
    expect(running.out).toMatch(
      new RegExp(`job ${jobId} in summarize is running now \\(started \\d+s ago\\)`),
    );

    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const [gone] = await listJobs(app.pipeline, { state: 'active' });
    expect(gone).toMatchObject({ id: jobId, holder: 'gone' });
    expect(gone?.lockTtlMs).toBeGreaterThan(30_000);
    expect(await jobsCli('jobs', 'list', '--state', 'active')).toMatch(
      /started \d+s ago {2}.*\n {4}report: .*\n {4}worker gone \(stopped or killed\): it runs again once its lock lapses, in (?:\d+m)?(?:\d+s)? \(JOB_LOCK_MS\)/,
    );
    const refused = await jobsCliFails('jobs', 'retry', jobId);
    expect(refused.out).toContain('but the worker that took it is gone (stopped or killed)');
    const web = await startAdmin(app);
    const report = await web.get(`/admin/reports/${reportId}`);
    expect(report).toContain('이 작업을 잡고 있던 작업자가 더 이상 연결되어 있지 않습니다');
    expect(report).toMatch(/잠금이 \d+(?:초|분) 뒤 풀리면/);
    expect(report).toMatch(/시작 \d+초 전/);
    // 요약 다시 실행 adds no job beside the stranded one.
    const pressed = await web.post(`/admin/reports/${reportId}/resummarize`);
    expect(pressed.location).toBe(`/admin/reports/${reportId}?notice=resummarize-running.then-post`);
    expect(await summarizeJobs(app)).toBe(1);
  });
});
