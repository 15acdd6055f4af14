// Covers several publish targets at once (file board + Rhymix-protocol board + signed webhook): each posts once, a failing one retries alone, a re-run edits in place.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { verifyWebhookSignature, type WebhookPayload } from '../../src/publish/webhook/index.js';
import { readFixture } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';
import { BOT_MEMBER, decodeTitle, RhymixTestServer } from '../support/rhymix-server.js';

const SECRET = 'webhook-secret-0123456789';

interface Receiver {
  url: string;
  received: { verified: boolean; payload: WebhookPayload }[];
  failNext: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], failNext: 0, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.failNext > 0) {
        r.failNext -= 1;
        res.writeHead(503).end('busy');
        return;
      }
      const body = Buffer.concat(chunks);
      const verified = verifyWebhookSignature({
        secret: SECRET,
        body,
        timestamp: req.headers['x-iswko-timestamp'] as string | undefined,
        signature: req.headers['x-iswko-signature'] as string | undefined,
      });
      r.received.push({ verified, payload: JSON.parse(body.toString('utf8')) as WebhookPayload });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: `hook-${r.received.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () =>
    new Promise((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  return r;
}

let h: PipelineHarness;
let board: RhymixTestServer;
let receiver: Receiver;
beforeEach(async () => {
  board = await RhymixTestServer.start({ categories: ['우크라이나', '중동'] });
  receiver = await startReceiver();
  h = await startHarness({
    RHYMIX_URL: board.url,
    RHYMIX_MID: board.mid,
    RHYMIX_USER: BOT_MEMBER.userId,
    RHYMIX_PASSWORD: BOT_MEMBER.password,
    RHYMIX_CATEGORY: '우크라이나',
    RHYMIX_MIN_INTERVAL_MS: '50',
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
  });
});
afterEach(async () => {
  await h.close();
  await board.close();
  await receiver.close();
});

it('posts to every target once, retries the failing one alone, and edits everywhere on a re-run', async () => {
  receiver.failNext = 2; // the webhook receiver is down for two attempts
  const app = await h.start();
  await app.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'x' });

  await waitFor('the webhook delivery', () => receiver.received.length === 1);
  await waitFor('the file post', () => h.postCount() === 1);
  await waitFor('the board document', () => board.documents().length === 1);
  const [doc] = board.documents();
  expect(decodeTitle(doc?.title ?? '')).toBe('[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일');
  expect(doc?.categorySrl).toBe(board.categorySrl('우크라이나'));
  expect(doc?.content).toContain('주요 요점');
  expect(receiver.received[0]?.verified).toBe(true);
  expect(receiver.received[0]?.payload.event).toBe('post.published');
  // The file board and Rhymix posted once each although the webhook failed twice.
  expect(board.documents()).toHaveLength(1);

  // Re-run the summary (as `isw-ko reprocess` does): every target edits what it has.
  const reportId = doc === undefined ? '' : ((await app.pipeline.store.listReports())[0] ?? '');
  await app.pipeline.enqueueSummarize(reportId, true);
  await waitFor('the webhook update', () => receiver.received.length === 2);
  await waitFor('the board edit', () => board.documents()[0]?.revision === 2);
  expect(board.documents()).toHaveLength(1);
  expect(h.postCount()).toBe(1);
  expect(receiver.received[1]?.payload.event).toBe('post.updated');
  const record = await app.pipeline.store.getPost(reportId, 'rhymix');
  expect(record?.revisions).toBe(2);
});
