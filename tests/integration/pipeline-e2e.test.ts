// Covers the whole pipeline on real parts: drop folder → ingest → summarize (real openai SDK → test LLM server) → file board.
import { copyFileSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEmail, CHROME_STRINGS } from '../../src/parse/index.js';
import { POST_HEADINGS } from '../../src/publish/index.js';
import { FIXTURES_DIR, gmailForward, readFixture } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

let h: PipelineHarness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('pipeline end to end', () => {
  it('turns a fixture dropped into the inbox into one clean Korean post', async () => {
    const app = await h.start({ inbox: true });
    mkdirSync(h.env.INBOX_DIR, { recursive: true });
    copyFileSync(path.join(FIXTURES_DIR, 'isw-roca-2025-03-02.eml'), path.join(h.env.INBOX_DIR, 'roca.eml'));
    const [post] = await waitFor('the post', () => (h.posts().length > 0 ? h.posts() : undefined));
    if (post === undefined) throw new Error('no post');

    expect(post.title).toBe('[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일');
    // Every heading, once, in order.
    const positions = POST_HEADINGS.map((heading) => post.html.indexOf(`>${heading}<`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // Every takeaway: the summary's Korean ones and the original English ones.
    const report = await parseEmail(readFixture('isw-roca-2025-03-02.eml'));
    const summary = await app.pipeline.store.getSummary(post.key.replace('isw-ko-', ''));
    expect(summary?.summary.key_takeaways_ko).toHaveLength(report.keyTakeaways.length);
    for (const t of summary?.summary.key_takeaways_ko ?? []) expect(post.html).toContain(t);
    for (const t of report.keyTakeaways)
      expect(post.html).toContain(t.replace(/'/g, '&#x27;').replace(/"/g, '&quot;'));
    for (const c of summary?.summary.categories ?? []) expect(post.html).toContain(c);
    for (const c of summary?.summary.countries ?? []) expect(post.html).toContain(c.name_ko);
    expect(post.html).toContain(summary?.summary.outlook_ko.split(/\s+/)[0] ?? '∅');
    // The original text, without chrome, markdown or tracking links.
    const first = report.paragraphs[0];
    expect(first?.type === 'text' && post.html.includes(first.text.slice(0, 60))).toBe(true);
    for (const chrome of CHROME_STRINGS) expect(post.html.toLowerCase()).not.toContain(chrome.toLowerCase());
    expect(post.html).not.toContain('```');
    expect(post.html).not.toMatch(/^#+ /m);
    expect(post.html).not.toContain('rs6.net');
    expect(post.html).not.toContain('isw-inbox@example.com');
    // The email was moved aside, not deleted.
    await waitFor('the processed file', () => app.inbox !== null && h.posts().length === 1);
  });

  it('rejects an email over PARSE_MAX_MESSAGE_BYTES before its bytes reach Redis, and keeps the file', async () => {
    await h.close();
    h = await startHarness({ PARSE_MAX_MESSAGE_BYTES: '20000', INBOX_POLL_MS: '100' });
    const app = await h.start({ inbox: true });
    const name = 'isw-roca-2025-03-02.eml';
    expect(readFixture(name).length).toBeGreaterThan(20_000);
    mkdirSync(h.env.INBOX_DIR, { recursive: true });
    const aside = path.join(h.dir, name);
    copyFileSync(path.join(FIXTURES_DIR, name), aside);
    renameSync(aside, path.join(h.env.INBOX_DIR, name));

    const [rejection] = await waitFor('the rejection', async () => {
      const all = await app.pipeline.store.listRejections();
      return all.length > 0 ? all : undefined;
    });
    expect(rejection).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      origin: { kind: 'drop-folder', ref: name },
    });
    expect(rejection?.reason).toContain('more than the limit of 20000');
    expect(rejection?.reason).toContain('PARSE_MAX_MESSAGE_BYTES');
    // Not stored, not queued; the file itself is kept in processed/.
    expect(await app.pipeline.store.getEmailRaw(rejection?.emailId ?? '')).toBeNull();
    expect(await app.pipeline.queues.ingest.count()).toBe(0);
    await waitFor('the file moved aside', () =>
      readdirSync(path.join(h.env.INBOX_DIR, 'processed')).some((f) => f.endsWith(name)),
    );
    expect(h.logs.some((l) => l.includes('email rejected before it was stored'))).toBe(true);
  });

  it('makes one report, one summary and one post of the same email ingested twice and forwarded once', async () => {
    const app = await h.start();
    const raw = readFixture('isw-roca-2024-01-26.eml');
    const first = await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'a' });
    const second = await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: 'b' });
    expect(second.jobId).toBe(first.jobId);
    expect(h.logs.some((l) => l.includes('email already received (same Message-ID)'))).toBe(true);
    await waitFor('the post', () => h.posts().length === 1);
    // An inline forward of the same report has another Message-ID but the same content.
    await app.pipeline.enqueueEmail(await gmailForward(raw), { kind: 'cli', ref: 'fwd' });
    await waitFor(
      'the forward to be ingested',
      async () => (await app.pipeline.queues.ingest.getJobCounts('completed')).completed === 2,
    );
    await waitFor('the queues to drain', async () => {
      const c = await app.pipeline.counts();
      return (
        (c.summarize.waiting ?? 0) +
          (c.summarize.active ?? 0) +
          (c.publish.waiting ?? 0) +
          (c.publish.active ?? 0) ===
        0
      );
    });
    expect(h.posts()).toHaveLength(1);
    const chatCalls = h.llm.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chatCalls).toHaveLength(1);
  });

  it('retries through LLM 500s and succeeds', async () => {
    h.llm.enqueue({ status: 500 }, { status: 500 });
    const app = await h.start();
    await app.pipeline.enqueueEmail(readFixture('isw-iran-update-2025-05-14.eml'), { kind: 'cli', ref: 'x' });
    await waitFor('the post', () => h.posts().length === 1);
    const chatCalls = h.llm.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chatCalls).toHaveLength(3);
    expect(h.logs.some((l) => l.includes('will be retried'))).toBe(true);
  });

  it('repairs an answer that is not JSON', async () => {
    h.llm.enqueue('invalid-json');
    const app = await h.start();
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
    const [post] = await waitFor('the post', () => (h.posts().length === 1 ? h.posts() : undefined));
    const summary = await app.pipeline.store.getSummary(post?.key.replace('isw-ko-', '') ?? '');
    expect(summary?.repairs).toBe(1);
  });

  it('fails with a readable reason when every answer is garbage, and keeps the job in the failed set', async () => {
    h.llm.enqueue(...Array.from({ length: 10 }, () => 'invalid-summary' as const));
    const app = await h.start();
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
    const failed = await waitFor('the failed job', async () => {
      const jobs = await app.pipeline.queues.summarize.getFailed();
      return jobs.length === 1 ? jobs : undefined;
    });
    expect(failed[0]?.failedReason).toMatch(/LLM_INVALID_ANSWER|takeaway/i);
    expect(h.posts()).toHaveLength(0);
  });

  it('delays the queue on 429 instead of failing the job', async () => {
    h.llm.enqueue({ status: 429, retryAfterSeconds: 1 });
    const app = await h.start();
    const started = Date.now();
    await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });
    await waitFor('the post', () => h.posts().length === 1);
    expect(
      Date.now() - started,
      h.logs.filter((l) => !l.includes('"level":20')).join('\n'),
    ).toBeGreaterThanOrEqual(900);
    expect(h.logs.some((l) => l.includes('rate limit'))).toBe(true);
    expect(h.logs.some((l) => l.includes('job failed'))).toBe(false);
  });
});
