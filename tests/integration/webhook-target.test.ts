// Covers the webhook target against a receiver on loopback: signed JSON the receiver verifies, the receiver's id kept, 5xx/timeouts retriable, 4xx permanent, and its settings.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../src/config/index.js';
import type { Post } from '../../src/publish/post.js';
import { PublishError } from '../../src/publish/publish-error.js';
import {
  signWebhook,
  verifyWebhookSignature,
  webhookSettingsFrom,
  WebhookTarget,
  type WebhookPayload,
  type WebhookSettings,
} from '../../src/publish/webhook/index.js';
import type { Summary } from '../../src/summarize/summary.js';

const SECRET = 'test-secret-0123456789abcdef';

const post: Post = {
  key: 'isw-ko-m0a1b2',
  reportId: 'm0a1b2',
  title: '[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일',
  html: '<h2>[요약]</h2>\n<p>본문</p>',
  text: '본문',
  sourceUrl: 'https://understandingwar.org/research/x/',
  tags: ['우크라이나'],
  publishedAt: '2025-03-02T20:00:00-05:00',
};
const summary: Summary = {
  title_ko: '러시아의 공세 캠페인 평가, 2025년 3월 2일',
  key_takeaways_ko: ['러시아군이 진격했다.'],
  categories: ['우크라이나'],
  countries: [{ name_ko: '우크라이나', iso2: 'UA', note: null }],
  outlook_ko: '전망',
};

interface Received {
  readonly verified: boolean;
  readonly payload: WebhookPayload;
  readonly headers: IncomingMessage['headers'];
}

/** A receiver that verifies every delivery with the exported helper, then answers as told. */
class Receiver {
  readonly received: Received[] = [];
  respond: (r: Received, res: ServerResponse) => void = (_r, res) => {
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `rcv-${this.received.length}`,
        url: `https://news.example/p/${this.received.length}`,
      }),
    );
  };
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const verified = verifyWebhookSignature({
          secret: SECRET,
          body,
          timestamp: req.headers['x-iswko-timestamp'] as string | undefined,
          signature: req.headers['x-iswko-signature'] as string | undefined,
        });
        const r: Received = {
          verified,
          payload: JSON.parse(body.toString('utf8')) as WebhookPayload,
          headers: req.headers,
        };
        this.received.push(r);
        if (!verified) {
          res.writeHead(401);
          res.end('bad signature');
          return;
        }
        this.respond(r, res);
      });
    });
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/isw`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
}

let receiver: Receiver | null = null;
async function startReceiver(): Promise<Receiver> {
  receiver = new Receiver();
  await receiver.start();
  return receiver;
}
afterEach(async () => {
  await receiver?.close();
  receiver = null;
});

function settings(r: Receiver, overrides: Partial<WebhookSettings> = {}): WebhookSettings {
  return { url: r.url, secret: SECRET, timeoutMs: 2_000, ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<PublishError> {
  const err: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(err instanceof PublishError)) throw err;
  return err;
}

describe('WebhookTarget', () => {
  it("keeps a receiver without post pages out of the readers' links: no url in its answer, no http link", async () => {
    const r = await startReceiver();
    r.respond = (_got, res) => {
      res.writeHead(204);
      res.end();
    };
    const ref = await new WebhookTarget(settings(r)).publish(post, { summary });
    expect(ref.url).toBe(`urn:isw-ko:webhook:${encodeURIComponent(ref.id)}`);
    expect(ref.url).not.toContain(r.url);
  });

  it('POSTs the post, summary and report id, signed so the receiver can verify it, and keeps its id', async () => {
    const r = await startReceiver();
    const target = new WebhookTarget(settings(r));
    const ref = await target.publish(post, { summary });
    expect(ref).toEqual({ id: 'rcv-1', url: 'https://news.example/p/1' });
    const [got] = r.received;
    expect(got?.verified).toBe(true);
    expect(got?.headers['x-iswko-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(got?.headers['x-iswko-event']).toBe('post.published');
    expect(got?.payload).toMatchObject({
      event: 'post.published',
      reportId: 'm0a1b2',
      previousId: null,
      post,
      summary,
    });
  });

  it('sends a later version as post.updated with the id the receiver gave', async () => {
    const r = await startReceiver();
    const target = new WebhookTarget(settings(r));
    const first = await target.upsert(post, null);
    const second = await target.upsert({ ...post, html: '<p>고침</p>' }, first.ref);
    expect(first.created).toBe(true);
    expect(second).toEqual({ ref: { id: 'rcv-2', url: 'https://news.example/p/2' }, created: false });
    expect(r.received[1]?.payload).toMatchObject({
      event: 'post.updated',
      previousId: 'rcv-1',
      summary: null,
    });
  });

  it('keeps the earlier id (or the post key) when the receiver answers without one', async () => {
    const r = await startReceiver();
    r.respond = (_r, res) => {
      res.writeHead(204);
      res.end();
    };
    const target = new WebhookTarget(settings(r));
    const ref = await target.publish(post);
    expect(ref.id).toBe(post.key);
    expect((await target.update({ id: 'rcv-9', url: 'https://news.example/p/9' }, post)).id).toBe('rcv-9');
    expect(await target.find(post)).toBeNull();
  });

  it('throws a retriable BOARD_UNAVAILABLE on 5xx, 429, a timeout and a closed port', async () => {
    const r = await startReceiver();
    const target = new WebhookTarget(settings(r, { timeoutMs: 150 }));
    for (const status of [500, 503, 429]) {
      r.respond = (_r, res) => {
        res.writeHead(status);
        res.end('busy');
      };
      const err = await rejection(target.publish(post));
      expect([err.code, err.kind, err.details['httpStatus']]).toEqual([
        'BOARD_UNAVAILABLE',
        'operational',
        status,
      ]);
    }
    r.respond = () => {
      // Never answers: the delivery must time out.
    };
    const slow = await rejection(target.publish(post));
    expect([slow.code, slow.retriable]).toEqual(['BOARD_UNAVAILABLE', true]);
    await r.close();
    const gone = await rejection(target.publish(post));
    expect(gone.code).toBe('BOARD_UNAVAILABLE');
  });

  it('throws permanent errors for 4xx answers: a bad signature is BOARD_AUTH_FAILED', async () => {
    const r = await startReceiver();
    const wrongSecret = new WebhookTarget(settings(r, { secret: 'another-secret-0123456789' }));
    const auth = await rejection(wrongSecret.publish(post));
    expect([auth.code, auth.kind]).toEqual(['BOARD_AUTH_FAILED', 'user']);
    expect(r.received[0]?.verified).toBe(false);
    r.respond = (_r, res) => {
      res.writeHead(422, { 'Content-Type': 'application/json' });
      res.end('{"error":"title too long"}');
    };
    const bad = await rejection(new WebhookTarget(settings(r)).publish(post));
    expect([bad.code, bad.kind]).toEqual(['BOARD_REJECTED', 'user']);
    expect(bad.details['snippet']).toContain('title too long');
  });
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify({ a: 1 });
  const now = 1_741_000_000_000;
  const timestamp = String(now / 1000);
  const signature = signWebhook(SECRET, timestamp, body);

  it('accepts the exact body and refuses a changed body, secret, timestamp or a stale delivery', () => {
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp, signature, nowMs: now })).toBe(true);
    expect(
      verifyWebhookSignature({ secret: SECRET, body: `${body} `, timestamp, signature, nowMs: now }),
    ).toBe(false);
    expect(verifyWebhookSignature({ secret: 'x'.repeat(20), body, timestamp, signature, nowMs: now })).toBe(
      false,
    );
    expect(
      verifyWebhookSignature({
        secret: SECRET,
        body,
        timestamp: String(now / 1000 + 1),
        signature,
        nowMs: now,
      }),
    ).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp, signature, nowMs: now + 301_000 })).toBe(
      false,
    );
    expect(
      verifyWebhookSignature({ secret: SECRET, body, timestamp, signature: undefined, nowMs: now }),
    ).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp: null, signature, nowMs: now })).toBe(
      false,
    );
  });
});

describe('webhookSettingsFrom', () => {
  const env = (vars: Record<string, string>): ReturnType<typeof loadEnv> =>
    loadEnv({ env: vars, envFile: null });

  it('is null when unset or left out of PUBLISH_TARGETS, and complete when configured', () => {
    expect(webhookSettingsFrom(env({}))).toBeNull();
    const vars = { WEBHOOK_URL: 'https://hook.example/x', WEBHOOK_SECRET: SECRET };
    expect(webhookSettingsFrom(env({ ...vars, PUBLISH_TARGETS: 'file' }))).toBeNull();
    expect(webhookSettingsFrom(env(vars))).toEqual({
      url: 'https://hook.example/x',
      secret: SECRET,
      timeoutMs: 15_000,
    });
  });

  it('refuses a webhook without a secret, and a short secret at load time', () => {
    expect(() => webhookSettingsFrom(env({ WEBHOOK_URL: 'https://hook.example/x' }))).toThrow(ConfigError);
    expect(() => webhookSettingsFrom(env({ PUBLISH_TARGETS: 'webhook' }))).toThrow(/WEBHOOK_URL/);
    expect(() => env({ WEBHOOK_URL: 'https://hook.example/x', WEBHOOK_SECRET: 'short' })).toThrow(
      /WEBHOOK_SECRET/,
    );
  });
});
