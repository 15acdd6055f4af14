import { pino } from 'pino';
import type { Logger } from '../../shared/logger.js';
import type { Summary } from '../../summarize/summary.js';
import type { BoardAdapter, PublishedRef } from '../board-adapter.js';
import type { Post } from '../post.js';
import { PublishError } from '../publish-error.js';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook-signature.js';
import type { WebhookSettings } from './webhook-settings.js';

/** Header naming the event, so receivers can route without parsing the body. */
export const EVENT_HEADER = 'X-IswKo-Event';

/** `post.published` the first time a post goes out, `post.updated` for every later version. */
export type WebhookEvent = 'post.published' | 'post.updated';

/** The JSON body of one delivery. Field names are a contract with receivers: never rename. */
export interface WebhookPayload {
  readonly event: WebhookEvent;
  readonly reportId: string;
  /** The receiver's id of the earlier version (from its answer then), on `post.updated`. */
  readonly previousId: string | null;
  /** The post as every board gets it; `post.key` is stable per report: dedupe on it. */
  readonly post: Post;
  /** The Korean summary behind the post, when the caller has it. */
  readonly summary: Summary | null;
  /** When this delivery was made (ISO 8601). */
  readonly sentAt: string;
}

/** What the webhook sends besides the post. */
export interface WebhookExtras {
  readonly summary?: Summary;
}

export interface WebhookTargetDeps {
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
  /** The clock (tests pin it). */
  readonly now?: () => Date;
}

// Statuses a later attempt can get past: the receiver is down, busy, or asked us to slow down.
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
const SNIPPET_CHARS = 200;

/**
 * Delivers every post as signed JSON to a URL (see {@link WebhookPayload}; headers
 * `X-IswKo-Timestamp` and `X-IswKo-Signature: sha256=<hex>`, checked by
 * `verifyWebhookSignature`). Makes one request per call and never retries itself: a 5xx, 429
 * or timeout throws `BOARD_UNAVAILABLE` (operational) and the queue retries with backoff; other
 * 4xx answers are permanent. The receiver's answer `{ "id": …, "url"?: … }` becomes the ref,
 * and the next version of the post is sent as `post.updated` with that id.
 *
 * A webhook cannot be asked what it holds, so {@link find} is always null: the worker's record
 * of the earlier delivery decides between publish and update, and receivers dedupe on `post.key`
 * (a delivery whose answer was lost is sent again as `post.published`).
 */
export class WebhookTarget implements BoardAdapter {
  readonly name = 'webhook';
  private readonly settings: WebhookSettings;
  private readonly fetch: typeof fetch;
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(settings: WebhookSettings, deps: WebhookTargetDeps = {}) {
    this.settings = settings;
    this.fetch = deps.fetch ?? globalThis.fetch;
    this.log = (deps.logger ?? pino({ level: 'silent' })).child({ target: 'webhook' });
    this.now = deps.now ?? (() => new Date());
  }

  /** Always null: a webhook has no way to be asked (see the class comment). */
  find(_post: Post): Promise<PublishedRef | null> {
    return Promise.resolve(null);
  }

  /** Deliver the post as `post.published`. */
  publish(post: Post, extras: WebhookExtras = {}): Promise<PublishedRef> {
    return this.deliver('post.published', post, null, extras);
  }

  /** Deliver the post as `post.updated` of the receiver's `ref.id`. */
  update(ref: PublishedRef, post: Post, extras: WebhookExtras = {}): Promise<PublishedRef> {
    return this.deliver('post.updated', post, ref, extras);
  }

  /** `update` when there is an earlier delivery, `publish` otherwise; for the publish worker. */
  async upsert(
    post: Post,
    previous: PublishedRef | null,
    extras: WebhookExtras = {},
  ): Promise<{ readonly ref: PublishedRef; readonly created: boolean }> {
    const ref =
      previous === null ? await this.publish(post, extras) : await this.update(previous, post, extras);
    return { ref, created: previous === null };
  }

  private async deliver(
    event: WebhookEvent,
    post: Post,
    previous: PublishedRef | null,
    extras: WebhookExtras,
  ): Promise<PublishedRef> {
    const sent = this.now();
    const payload: WebhookPayload = {
      event,
      reportId: post.reportId,
      previousId: previous?.id ?? null,
      post,
      summary: extras.summary ?? null,
      sentAt: sent.toISOString(),
    };
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(sent.getTime() / 1000));
    const started = Date.now();
    let response: Response;
    try {
      response = await this.fetch(this.settings.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          Accept: 'application/json',
          'User-Agent': 'isw-ko/0.1 (webhook)',
          [EVENT_HEADER]: event,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(this.settings.secret, timestamp, body),
        },
        body,
        // A POST must not be silently re-sent elsewhere: a redirect is a configuration problem.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new PublishError(
        'BOARD_UNAVAILABLE',
        timedOut
          ? `the webhook at ${this.safeUrl} did not answer within ${this.settings.timeoutMs} ms`
          : `the webhook at ${this.safeUrl} could not be reached`,
        {
          cause: err,
          details: { event, timeoutMs: this.settings.timeoutMs },
          hint: 'the job is retried; check the receiver if it keeps failing',
        },
      );
    }
    const text = await response.text();
    const details = { event, httpStatus: response.status, snippet: text.slice(0, SNIPPET_CHARS) };
    if (TRANSIENT_STATUSES.has(response.status) || response.status >= 500) {
      throw new PublishError(
        'BOARD_UNAVAILABLE',
        `the webhook at ${this.safeUrl} answered HTTP ${response.status}`,
        {
          details,
          hint: 'the job is retried; check the receiver if it keeps failing',
        },
      );
    }
    if (response.status === 401 || response.status === 403) {
      throw new PublishError(
        'BOARD_AUTH_FAILED',
        `the webhook at ${this.safeUrl} refused the delivery (HTTP ${response.status})`,
        {
          details,
          hint: 'the receiver must verify X-IswKo-Signature with the same secret as WEBHOOK_SECRET',
        },
      );
    }
    if (response.status >= 300 && response.status < 400) {
      throw new PublishError(
        'BOARD_MISCONFIGURED',
        `the webhook at ${this.safeUrl} redirects (HTTP ${response.status})`,
        {
          details: { ...details, location: response.headers.get('location') },
          hint: 'set WEBHOOK_URL to the final address (deliveries are not re-sent to a redirect target)',
        },
      );
    }
    if (!response.ok) {
      throw new PublishError(
        'BOARD_REJECTED',
        `the webhook at ${this.safeUrl} rejected the delivery (HTTP ${response.status})`,
        {
          details,
          hint: "read the receiver's answer in the error details; fix the receiver, then retry the job",
        },
      );
    }
    const ref = this.refFrom(text, post, previous);
    this.log.info(
      { event, reportId: post.reportId, id: ref.id, ms: Date.now() - started },
      'webhook delivered',
    );
    return ref;
  }

  /** The receiver's `{ id, url }`; without an id, the earlier one (or the post key) stands in. */
  private refFrom(text: string, post: Post, previous: PublishedRef | null): PublishedRef {
    let answer: unknown = null;
    if (text.trim() !== '') {
      try {
        answer = JSON.parse(text);
      } catch {
        // A 2xx with a non-JSON body is a delivery all the same; logged, not failed.
        this.log.debug({ snippet: text.slice(0, SNIPPET_CHARS) }, 'webhook answer is not JSON');
      }
    }
    const record = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {};
    const rawId = record['id'];
    const id =
      typeof rawId === 'string' && rawId !== ''
        ? rawId
        : typeof rawId === 'number' && Number.isFinite(rawId)
          ? String(rawId)
          : (previous?.id ?? post.key);
    const rawUrl = record['url'];
    // No page to send readers to: a name that is not a link (digests link http(s) URLs only), never
    // the webhook's own address, which a digest would otherwise offer as "the post on the board".
    const url =
      typeof rawUrl === 'string' && /^https?:\/\//i.test(rawUrl)
        ? rawUrl
        : (previous?.url ?? `urn:isw-ko:webhook:${encodeURIComponent(id)}`);
    return { id, url };
  }

  /** The webhook URL without credentials or query (which may carry a token), for messages. */
  private get safeUrl(): string {
    const u = new URL(this.settings.url);
    return `${u.origin}${u.pathname}`;
  }
}
