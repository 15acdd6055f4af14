// Covers the notify stage inside the whole app: a published report mails each immediate subscriber once (real SMTP server), and a re-run edits the post without mailing again.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { Command } from 'commander';
import { holdReport, listJobs, releaseReport } from '../../src/admin/operations.js';
import { registerJobCommands } from '../../src/cli/jobs.js';
import { readFixture } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

let h: PipelineHarness;
let smtp: TestSmtpServer;
const start = async (
  smtpOptions: Parameters<typeof startTestSmtpServer>[0] = {},
  vars: Record<string, string> = {},
): Promise<void> => {
  smtp = await startTestSmtpServer(smtpOptions);
  h = await startHarness({
    SMTP_URL: smtp.url,
    MAIL_FROM: 'ISW 브리핑 <briefing@example.org>',
    MAIL_RATE_PER_SECOND: '0',
    TOKEN_SECRET: 'token-secret-for-tests-0123456789abcdef',
    PUBLIC_BASE_URL: 'https://briefing.example.org',
    ...vars,
  });
};
beforeEach(async () => {
  await start();
});
afterEach(async () => {
  await h.close();
  await smtp.close();
});

it('mails every immediate subscriber once when a report is published, and not again when it is re-run', async () => {
  const app = await h.start({ workers: ['ingest', 'summarize', 'publish', 'notify'] });
  await app.notify.subscribers.add({
    address: 'kim@example.kr',
    name: '김',
    mode: 'immediate',
    source: 'cli',
  });
  await app.notify.subscribers.add({
    address: 'lee@example.kr',
    name: '이',
    mode: 'immediate',
    source: 'cli',
  });
  await app.notify.subscribers.add({ address: 'park@example.kr', name: '박', mode: 'daily', source: 'cli' });

  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
  await smtp.waitForAccepted(2, 20_000);
  const mail = await simpleParser(smtp.messages[0]?.raw ?? Buffer.alloc(0));
  expect(mail.subject).toContain('[ISW 브리핑]');
  expect(mail.subject).toContain('러시아의 공세 캠페인 평가');
  const header = (name: string): string =>
    mail.headerLines
      .find((l) => l.key === name)
      ?.line.replace(/^[^:]+:\s*/, '')
      .replace(/\s+/g, ' ') ?? '';
  expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
  // No IMAP mailbox reads unsubscribe mail here (drop folder): the https link alone, no mailto:.
  expect(header('list-unsubscribe')).toMatch(/^<https:\/\/briefing\.example\.org\/[^>]+>$/);
  expect(mail.html).not.toContain('<script');
  expect(smtp.messages.map((m) => m.to[0]).sort()).toEqual(['kim@example.kr', 'lee@example.kr']);

  // A re-run of the summary edits the post in place and mails nobody again.
  const [reportId] = await app.pipeline.store.listReports();
  await app.pipeline.enqueueSummarize(reportId ?? '', true);
  await waitFor(
    'the post to be edited',
    async () => (await app.pipeline.store.getPost(reportId ?? '', 'file'))?.revisions === 2,
  );
  await waitFor('the notify queues to drain', async () => {
    const fan = await app.notify.fanOutQueue.getJobCounts('waiting', 'active');
    const send = await app.notify.sendQueue.getJobCounts('waiting', 'active');
    return (
      Object.values({ ...fan }).every((n) => n === 0) && Object.values({ ...send }).every((n) => n === 0)
    );
  });
  expect(smtp.accepted).toBe(2);
  expect(h.postCount()).toBe(1);
});

it('mails nobody about a held report, and mails each subscriber once when it is released', async () => {
  const app = await h.start({ workers: ['ingest', 'summarize', 'publish', 'notify'] });
  await app.notify.subscribers.add({
    address: 'kim@example.kr',
    name: '김',
    mode: 'immediate',
    source: 'cli',
  });
  h.llm.enqueue({ slow: 1000 });
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
  const reportId = await waitFor(
    'the parsed report',
    async () => (await app.pipeline.store.listReports())[0],
  );
  expect(await holdReport(app.pipeline, reportId, { by: 'test', reason: 'wrong date' })).toContain('held');
  await waitFor(
    'the held publish',
    async () => (await app.pipeline.store.getStages(reportId)).publish?.state === 'held',
  );
  // Nothing published, so nothing to mail: no fan-out was even queued (the delayed job is the
  // daily digest's scheduler).
  expect(await app.notify.notifyStore.publishedAt(reportId)).toBeNull();
  expect(await app.notify.fanOutQueue.getJobCounts('waiting', 'active', 'completed')).toEqual({
    waiting: 0,
    active: 0,
    completed: 0,
  });
  expect(smtp.accepted).toBe(0);

  await releaseReport(app.pipeline, reportId);
  await smtp.waitForAccepted(1, 20_000);
  expect(smtp.messages.map((m) => m.to[0])).toEqual(['kim@example.kr']);
  expect(h.postCount()).toBe(1);
});

it('lists a refused email among the failed jobs (`jobs list`), and sends it after `jobs retry`', async () => {
  const app = await h.start({ workers: ['ingest', 'summarize', 'publish', 'notify'] });
  await app.notify.subscribers.add({ address: 'kim@example.kr', mode: 'immediate', source: 'cli' });
  // Refused for good once: content refusals at DATA are not retried (the job fails).
  smtp.respond({ stage: 'data', code: 554, message: '5.6.0 Message refused', times: 1 });
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
  await waitFor('the failed send', async () => (await app.notify.sendQueue.getFailed()).length === 1);

  const run = async (...args: string[]): Promise<string> => {
    let out = '';
    const program = new Command('isw-ko').exitOverride();
    registerJobCommands(program, { open: () => h.start({ workers: [] }), write: (t) => (out += t) });
    await program.parseAsync(args, { from: 'user' });
    return out;
  };
  expect(await run('jobs')).toMatch(/^notify-send +waiting 0 .*failed 1/m);
  const listed = await run('jobs', 'list', '--queue', 'notify-send');
  const id = /^notify-send\/(\S+) +attempts/m.exec(listed)?.[1];
  expect(id, listed).toBeDefined();
  expect(listed).toContain('Russian Offensive Campaign Assessment, March 2, 2025 → subscriber s');
  expect(listed).toContain('last error: SMTP_MESSAGE_REJECTED');
  // The same job appears in the list of every queue's failed jobs.
  expect(await run('jobs', 'list')).toContain(`notify-send/${id ?? ''}`);

  expect(await run('jobs', 'retry', id ?? '')).toBe(`notify-send/${id ?? ''}: queued again\n`);
  await smtp.waitForAccepted(1, 20_000);
  expect(smtp.acceptedFor('kim@example.kr')).toBe(1);
  expect(await run('jobs', 'list', '--queue', 'notify-send')).toBe('no failed jobs\n');
});

it('names its send workers, so the jobs list tells a running send from one whose process died', async () => {
  await h.close();
  await smtp.close();
  await start({ dataDelayMs: 3000 }); // the send stays active long enough to be looked at
  const app = await h.start({ workers: ['ingest', 'summarize', 'publish', 'notify'] });
  await app.notify.subscribers.add({ address: 'kim@example.kr', mode: 'immediate', source: 'cli' });
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
  const extraQueues = [app.notify.fanOutQueue, app.notify.sendQueue];
  const [active] = await waitFor('the active send', async () => {
    const rows = await listJobs(app.pipeline, { state: 'active', queue: 'notify-send', extraQueues });
    return rows.length > 0 ? rows : undefined;
  });
  expect(active?.holder).toBe('alive');
  await smtp.waitForAccepted(1, 20_000);
});

it('mails once every board has the post, so the digest links the public one, not after the first board', async () => {
  // A webhook board that is down for its first two deliveries; the file board posts at once.
  let calls = 0;
  const board = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls += 1;
      if (calls <= 2) {
        res.writeHead(503);
        res.end();
        return;
      }
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 'p1', url: 'https://board.example.kr/p/1' }));
    });
  });
  await new Promise<void>((resolve) => board.listen(0, '127.0.0.1', resolve));
  try {
    await h.close();
    await smtp.close();
    await start(
      {},
      {
        PUBLISH_TARGETS: 'file,webhook',
        WEBHOOK_URL: `http://127.0.0.1:${(board.address() as AddressInfo).port}/hook`,
        WEBHOOK_SECRET: 'a-webhook-secret-for-tests-0123456789',
      },
    );
    const app = await h.start({ workers: ['ingest', 'summarize', 'publish', 'notify'] });
    await app.notify.subscribers.add({ address: 'kim@example.kr', mode: 'immediate', source: 'cli' });
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
    await smtp.waitForAccepted(1, 20_000);
    expect(calls).toBe(3); // mailed only after the webhook board took the post
    // Meanwhile the report's 게시 stage said which board it waited for, not 게시 완료.
    expect(
      h.logs.some(
        (l) =>
          l.includes('subscribers are mailed once the other boards have it too') &&
          l.includes('"waitingFor":["webhook"]'),
      ),
    ).toBe(true);
    const [reportId] = await app.pipeline.store.listReports();
    await waitFor(
      'the publish stage done',
      async () => (await app.pipeline.store.getStages(reportId ?? '')).publish?.state === 'done',
    );
    const mail = await simpleParser(smtp.messages[0]?.raw ?? Buffer.alloc(0));
    expect(mail.html).toContain('https://board.example.kr/p/1');
    expect(String(mail.text)).toContain('https://board.example.kr/p/1');
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.accepted).toBe(1);
  } finally {
    await new Promise((resolve) => board.close(resolve));
  }
});
