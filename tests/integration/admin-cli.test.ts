// Covers the admin CLI on a real pipeline: a summary failed on purpose (LLM 500s) shows in `jobs list`, `jobs retry` makes it succeed, `reprocess` edits the post instead of adding one.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/cli/app.js';
import { registerJobCommands } from '../../src/cli/jobs.js';
import type { PostRecord } from '../../src/queue/store.js';
import { isAppError } from '../../src/shared/app-error.js';
import { readFixture, REPO_ROOT } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

let h: PipelineHarness;
let app: App;
beforeEach(async () => {
  h = await startHarness();
  app = await h.start();
});
afterEach(async () => {
  await h.close();
});

/** The real `isw-ko` binary with the harness's environment: exit code and output. */
async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), ...args], {
    cwd: h.dir,
    env: { ...process.env, ...h.vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  return { code, stdout, stderr };
}

/** What a command printed, without the JSON log lines that share stdout. */
function printed(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
}

/** The same commands in this process (faster), writing into a string. */
async function inProcess(...args: string[]): Promise<string> {
  let out = '';
  const program = new Command('isw-ko').exitOverride();
  registerJobCommands(program, {
    open: () => h.start({ workers: [] }),
    write: (text) => (out += text),
  });
  await program.parseAsync(args, { from: 'user' });
  return out;
}

/**
 * The one report on the board once its publication is recorded: the board writes its file before
 * the publish job records the post in Redis, and the commands under test read that record.
 */
async function published(): Promise<{ reportId: string; post: PostRecord }> {
  await waitFor('the post', () => h.posts().length === 1);
  const reportId = (h.posts()[0]?.key ?? '').replace('isw-ko-', '');
  const post = await waitFor(
    'the post record',
    async () => (await app.pipeline.store.getPost(reportId, 'file')) ?? undefined,
  );
  return { reportId, post };
}

/** Queue a fixture with the LLM answering 500 to every attempt; resolves with its failed job. */
async function failedSummary(fixture: string): Promise<{ jobId: string; reportId: string }> {
  h.llm.enqueue(...Array.from({ length: 5 }, () => ({ status: 500 })));
  await app.pipeline.enqueueEmail(readFixture(fixture), { kind: 'cli', ref: fixture });
  return waitFor(`the failed summary of ${fixture}`, async () => {
    for (const job of await app.pipeline.queues.summarize.getFailed()) {
      const stored = await app.pipeline.store.getReport(job.data.reportId);
      if (stored?.report.subject.length !== undefined && job.id !== undefined && job.attemptsMade === 5) {
        const email = await app.pipeline.store.getEmail(stored.emailId);
        if (email?.origin.ref === fixture) return { jobId: job.id, reportId: job.data.reportId };
      }
    }
    return undefined;
  });
}

describe('isw-ko jobs', () => {
  it('lists a failed summary with its title, attempts, last error and age; `jobs retry` makes it succeed', async () => {
    const { jobId, reportId } = await failedSummary('isw-roca-2024-01-26.eml');
    const title = (await app.pipeline.store.getReport(reportId))?.report.title ?? '∅';

    const listed = await cli('jobs', 'list', '--state', 'failed', '--queue', 'summarize');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`summarize/${jobId}  attempts 5/5  finished `);
    expect(listed.stdout).toContain(title);
    expect(listed.stdout).toContain(`report: ${reportId}`);
    expect(listed.stdout).toMatch(/last error: The LLM server at http:\/\/127\.0\.0\.1:\d+\/v1 answered 500/);

    const counts = await cli('jobs');
    expect(counts.stdout).toMatch(/^summarize\s.*failed 1/m);

    const retried = await cli('jobs', 'retry', jobId);
    expect(retried.code, retried.stderr).toBe(0);
    expect(printed(retried.stdout)).toEqual([`summarize/${jobId}: queued again`]);
    await waitFor('the post after the retry', () => h.posts().length === 1);
    expect(await app.pipeline.queues.summarize.getFailed()).toHaveLength(0);
    expect((await app.pipeline.store.getStages(reportId)).summarize?.state).toBe('done');
    expect(await inProcess('jobs', 'list')).toBe('no failed jobs\n');
  });

  it('retries every failed job of a queue with --all', async () => {
    await failedSummary('isw-roca-2024-01-26.eml');
    await failedSummary('isw-iran-update-2025-05-14.eml');
    expect(await inProcess('jobs', 'retry', '--all', '--queue', 'summarize')).toBe(
      'retried 2 failed jobs in summarize\n',
    );
    await waitFor('both posts', () => h.posts().length === 2);
  });

  it('fails with the reason for an unknown job id, and a non-zero exit code', async () => {
    const result = await cli('jobs', 'retry', 'summarize-nope');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('summarize-nope: no job with id summarize-nope');
    expect(result.stderr).toContain('AdminError JOB_NOT_FOUND');
    await expect(inProcess('jobs', 'list', '--state', 'sleeping')).rejects.toThrow(
      /Allowed choices are failed/,
    );
  });
});

describe('isw-ko reprocess', () => {
  it('adds no second publish job beside one that has not started yet (the post would be edited twice)', async () => {
    // No publish worker at first: the report's publish job waits in the queue.
    await app.close();
    app = await h.start({ workers: ['ingest', 'summarize'] });
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'ok' });
    const reportId = await waitFor('the queued publish job', async () => {
      const [job] = await app.pipeline.queues.publish.getWaiting();
      return job?.data.reportId;
    });
    for (let i = 0; i < 2; i += 1) {
      expect(await inProcess('reprocess', reportId, '--from', 'publish')).toMatch(
        /^\S+: publish to file: job publish-\S+ is already queued; no second job added \(a new post\)\n$/,
      );
    }
    expect(await app.pipeline.queues.publish.getWaitingCount()).toBe(1);
    await h.start({ workers: ['publish'] });
    const post = await waitFor(
      'the post record',
      async () => (await app.pipeline.store.getPost(reportId, 'file')) ?? undefined,
    );
    expect(post.revisions).toBe(1);
    await waitFor(
      'the publish jobs done',
      async () => (await app.pipeline.queues.publish.getCompletedCount()) === 1,
    );
    expect(h.posts()).toHaveLength(1);
    expect((await app.pipeline.store.getPost(reportId, 'file'))?.revisions).toBe(1);
  });

  it('re-runs a published report from summarize and from publish, editing its one post', async () => {
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'ok' });
    const { reportId, post: first } = await published();
    const summary = await app.pipeline.store.getSummary(reportId);
    const chats = (): number => h.llm.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    const chatsBefore = chats();

    const fromSummarize = await cli('reprocess', reportId);
    expect(fromSummarize.code, fromSummarize.stderr).toBe(0);
    expect(fromSummarize.stdout).toContain(
      `${reportId}: summarize: a new summary was queued; the post is edited when it is ready`,
    );
    await waitFor(
      'the post edited',
      async () => (await app.pipeline.store.getPost(reportId, 'file'))?.revisions === 2,
    );
    expect(chats()).toBe(chatsBefore + 1);
    expect((await app.pipeline.store.getSummary(reportId))?.createdAt).not.toBe(summary?.createdAt);

    const fromPublish = await inProcess('reprocess', reportId, '--from', 'publish');
    expect(fromPublish).toContain(`publish to file: queued (edits ${first.url})`);
    await waitFor(
      'the post edited again',
      async () => (await app.pipeline.store.getPost(reportId, 'file'))?.revisions === 3,
    );
    // No new summary for a re-post, and still one post, the same one.
    expect(chats()).toBe(chatsBefore + 1);
    const last = await app.pipeline.store.getPost(reportId, 'file');
    expect(last?.id).toBe(first.id);
    expect(h.posts()).toHaveLength(1);
    expect(await app.pipeline.queues.publish.getFailed()).toHaveLength(0);
  });

  it('retries a report whose summary failed for good, instead of leaving the failed job behind', async () => {
    const { reportId } = await failedSummary('isw-iran-update-2025-05-14.eml');
    expect(await inProcess('reprocess', reportId, '--from', 'summarize')).toMatch(
      /summarize: retried failed job summarize-\S+; it is posted when it is ready \(no post yet\)/,
    );
    await waitFor('the post', () => h.posts().length === 1);
    expect(await app.pipeline.queues.summarize.getFailed()).toHaveLength(0);
  });

  it('says what is wrong: an unknown report, publish before any summary, notify before publication', async () => {
    const unknown = await inProcess('reprocess', 'mnope').catch((err: unknown) => err);
    expect(isAppError(unknown, 'REPORT_NOT_FOUND')).toBe(true);
    const { reportId } = await failedSummary('isw-roca-2024-01-26.eml');
    const publish = await inProcess('reprocess', reportId, '--from', 'publish').catch((err: unknown) => err);
    expect(isAppError(publish, 'SUMMARY_MISSING')).toBe(true);
    const notify = await inProcess('reprocess', reportId, '--from', 'notify').catch((err: unknown) => err);
    expect(isAppError(notify, 'NOT_PUBLISHED')).toBe(true);
  });
});

describe('isw-ko hold / unhold', () => {
  it('keeps a report off the board until released, then posts it once without asking the LLM again', async () => {
    h.llm.enqueue({ slow: 1500 });
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'held' });
    const reportId = await waitFor(
      'the parsed report',
      async () => (await app.pipeline.store.listReports())[0],
    );
    // In this process: the real binary takes longer to start than the slow answer takes.
    expect(await inProcess('hold', reportId, '--reason', 'check the place names')).toBe(
      `${reportId}: held: it will not be posted or mailed until released\n`,
    );
    await waitFor(
      'the held publish',
      async () => (await app.pipeline.store.getStages(reportId)).publish?.state === 'held',
    );
    expect(h.posts()).toHaveLength(0);
    const chats = (): number => h.llm.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    expect(chats()).toBe(1);

    const listed = await cli('hold', '--list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^${reportId}  held by cli, \\d+s ago  Russian Offensive Campaign Assessment`),
    );
    expect(listed.stdout).toContain('reason: check the place names');
    expect(await inProcess('hold', reportId)).toMatch(/already held by cli since .*; nothing changed/);

    const released = await cli('unhold', reportId);
    expect(released.code, released.stderr).toBe(0);
    expect(printed(released.stdout)).toEqual([
      expect.stringMatching(new RegExp(`^${reportId}: released \\(held by cli since `)) as string,
      `${reportId}: publish to file: queued (a new post)`,
    ]);
    await waitFor('the post after the release', () => h.posts().length === 1);
    expect(chats()).toBe(1);
    expect(await inProcess('hold', '--list')).toBe('no held reports\n');
  });

  it('holds a published report: its post stays up but is not edited until released', async () => {
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'ok' });
    const { reportId } = await published();
    expect(await inProcess('hold', reportId)).toBe(
      `${reportId}: held: already posted on file; those posts stay up but are not edited until released\n`,
    );
    expect(await inProcess('reprocess', reportId, '--from', 'publish')).toContain(
      `publish to file: queued (edits ${(await app.pipeline.store.getPost(reportId, 'file'))?.url ?? '∅'}) — but the report is held, so it is posted only when released (isw-ko unhold ${reportId})`,
    );
    await waitFor(
      'the held re-post',
      async () => (await app.pipeline.store.getStages(reportId)).publish?.state === 'held',
    );
    expect((await app.pipeline.store.getPost(reportId, 'file'))?.revisions).toBe(1);
    const first = await app.pipeline.store.getPost(reportId, 'file');
    expect(await inProcess('unhold', reportId)).toContain(
      `publish to file: queued (edits ${first?.url ?? '∅'})`,
    );
    await waitFor(
      'the edit',
      async () => (await app.pipeline.store.getPost(reportId, 'file'))?.revisions === 2,
    );
    expect(h.posts()).toHaveLength(1);
  });

  it('says what is wrong: an unknown report, a report that is not held, no ids', async () => {
    expect(isAppError(await inProcess('hold', 'mnope').catch((e: unknown) => e), 'REPORT_NOT_FOUND')).toBe(
      true,
    );
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'ok' });
    await waitFor('the post', () => h.posts().length === 1);
    const reportId = (h.posts()[0]?.key ?? '').replace('isw-ko-', '');
    const notHeld = await cli('unhold', reportId);
    expect(notHeld.code).toBe(1);
    expect(notHeld.stderr).toContain('REPORT_NOT_HELD');
    expect(notHeld.stderr).toContain('isw-ko hold --list');
    expect(isAppError(await inProcess('hold').catch((e: unknown) => e), 'BAD_ARGUMENT')).toBe(true);
  });
});

/** Start the real binary and wait for its HTTP server's URL (from its JSON log line). */
async function serving(args: string[], extra: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), ...args], {
    cwd: h.dir,
    env: { ...process.env, ...h.vars, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await waitFor(`the HTTP server of isw-ko ${args.join(' ')}`, () => {
    if (child.exitCode !== null) throw new Error(`isw-ko exited early:\n${output}`);
    return /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*HTTP server listening/.exec(output)?.[1];
  });
  return { child, url, exited, output: () => output };
}

describe('isw-ko run', () => {
  it('serves the admin server and stops cleanly on SIGTERM', async () => {
    const { child, url, exited, output } = await serving(['run'], {
      ADMIN_LISTEN: '127.0.0.1:0',
      ADMIN_PASSWORD: 'a password for run',
    });
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect((await fetch(`${url}/admin/reports`)).status).toBe(401);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output()).toContain('shutting down: finishing current jobs');
      expect(output()).toContain('"msg":"stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('serves only probes and metrics from `worker --listen`', async () => {
    const { child, url, exited } = await serving(
      ['worker', '--queues', 'publish', '--listen', '127.0.0.1:0'],
      {
        ADMIN_PASSWORD: 'a password for workers',
      },
    );
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = (await (await fetch(`${url}/readyz`)).json()) as {
        checks: { workers: { detail: string } };
      };
      expect(ready.checks.workers.detail).toBe('running: publish');
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      expect((await fetch(`${url}/admin/reports`)).status).toBe(404);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
