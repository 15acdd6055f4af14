import type { Logger } from '../shared/logger.js';
import type { SendOrder } from './deliver.js';
import { dailyWindow, digestIds } from './digest.js';
import type { NotifyStore } from './notify-store.js';
import type { Clock } from './schedule.js';
import type { SubscriberStore } from './subscribers.js';

/** Which digest to fan out. */
export type DigestRequest =
  /** The email about one newly published report, to every active immediate subscriber. */
  | { readonly kind: 'report'; readonly reportId: string }
  /** The daily digest of a run at `runAt` (ms), to every active daily subscriber with news. */
  | { readonly kind: 'daily'; readonly runAt: number };

export interface FanOutDeps {
  readonly subscribers: SubscriberStore;
  readonly notifyStore: NotifyStore;
  /** DIGEST_TIME_ZONE (daily digest ids). */
  readonly timeZone: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Subscribers read and send jobs added per page. */
  readonly pageSize?: number;
}

export interface FanOutHooks {
  /** Add one send job per order (idempotent: deterministic job ids). */
  enqueue(orders: readonly SendOrder[]): Promise<void>;
  /** Called after each page: persist `after` so a restarted fan-out resumes there. */
  progress(after: string, done: { readonly enqueued: number; readonly empty: number }): Promise<void>;
}

export interface FanOutResult {
  readonly digestId: string;
  /** Send orders handed to `enqueue` by this run. */
  readonly enqueued: number;
  /** Daily subscribers with no report in their window (no email: "no reports, no email"). */
  readonly empty: number;
  readonly pages: number;
}

export const DEFAULT_FAN_OUT_PAGE = 500;

/** The digest id of a request. */
export function digestIdOf(request: DigestRequest, timeZone: string): string {
  return request.kind === 'report'
    ? digestIds.immediate(request.reportId)
    : digestIds.daily(request.runAt, timeZone);
}

/** One page of a digest's subscribers, decided. */
export interface PlannedPage {
  /** One send order per subscriber with something to read. */
  readonly orders: readonly SendOrder[];
  /** Daily subscribers whose window held no report. */
  readonly empty: readonly string[];
  /** Every subscriber of the page (orders and empty): their daily coverage moves to the run. */
  readonly subscriberIds: readonly string[];
  /** The last subscriber id of the page: where the next page (or a resumed fan-out) starts. */
  readonly after: string;
}

/**
 * Decide, a page at a time, who gets what: reads subscribers and report windows, writes nothing.
 * `fanOut` enqueues what this yields; `isw-ko digest send --dry-run` prints it.
 *
 * Daily: each subscriber's window runs from their previous digest to `runAt` (see `dailyWindow`);
 * subscribers whose window holds no report get no order. Windows are computed once per distinct
 * start, so subscribers who share a schedule share one Redis query.
 */
export async function* planFanOut(
  request: DigestRequest,
  resumeAfter: string | null,
  deps: Pick<FanOutDeps, 'subscribers' | 'notifyStore' | 'timeZone' | 'clock' | 'pageSize'>,
): AsyncGenerator<PlannedPage> {
  const pageSize = deps.pageSize ?? DEFAULT_FAN_OUT_PAGE;
  const digestId = digestIdOf(request, deps.timeZone);
  const mode = request.kind === 'report' ? 'immediate' : 'daily';
  const sentAt =
    request.kind === 'report'
      ? ((await deps.notifyStore.publishedAt(request.reportId)) ?? deps.clock())
      : request.runAt;
  const windows = new Map<number, readonly string[]>();
  let after = resumeAfter;
  for (;;) {
    const page = await deps.subscribers.pageActive(mode, after, pageSize);
    const orders: SendOrder[] = [];
    const empty: string[] = [];
    for (const [i, subscriberId] of page.ids.entries()) {
      let reportIds: readonly string[];
      if (request.kind === 'report') {
        reportIds = [request.reportId];
      } else {
        const window = dailyWindow(page.coveredUntil[i] ?? null, request.runAt);
        const known = windows.get(window.from);
        reportIds = known ?? (await deps.notifyStore.publishedBetween(window.from, window.to));
        if (known === undefined) windows.set(window.from, reportIds);
      }
      if (reportIds.length > 0) orders.push({ digestId, subscriberId, mode, reportIds, sentAt });
      else empty.push(subscriberId);
    }
    const last = page.ids[page.ids.length - 1];
    if (last !== undefined) {
      after = last;
      yield { orders, empty, subscriberIds: page.ids, after: last };
    }
    if (page.next === null) return;
  }
}

/**
 * Turn one digest into one send order per subscriber, a page at a time (see {@link planFanOut}):
 * each page's orders are enqueued before the next page is read, so 10,000 subscribers never sit in
 * one array, and a crashed fan-out resumes after the last page it finished (`resumeAfter`).
 * Re-running a page is harmless: job ids are derived from digest and subscriber. A daily
 * subscriber's coverage moves to `runAt` after their order is enqueued: a crash in between
 * re-enqueues (a no-op), never skips.
 */
export async function fanOut(
  request: DigestRequest,
  resumeAfter: string | null,
  deps: FanOutDeps,
  hooks: FanOutHooks,
): Promise<FanOutResult> {
  const digestId = digestIdOf(request, deps.timeZone);
  const log = deps.logger.child({ stage: 'notify', digestId });
  let enqueued = 0;
  let empty = 0;
  let pages = 0;
  // Before any window is read (the plan reads lazily). Never beyond now: a run dated in the future
  // (`digest send --at`) must not push every later report past it.
  if (request.kind === 'daily') await deps.notifyStore.fenceDaily(Math.min(request.runAt, deps.clock()));
  for await (const page of planFanOut(request, resumeAfter, deps)) {
    if (page.orders.length > 0) {
      await hooks.enqueue(page.orders);
      await deps.notifyStore.count(digestId, 'enqueued', page.orders.length);
    }
    if (request.kind === 'daily') {
      await deps.subscribers.advanceCoveredUntil(
        page.subscriberIds.map((id) => ({ id, until: request.runAt })),
      );
    }
    enqueued += page.orders.length;
    empty += page.empty.length;
    pages += 1;
    await hooks.progress(page.after, { enqueued, empty });
  }
  if (empty > 0) await deps.notifyStore.count(digestId, 'empty', empty);
  await deps.notifyStore.markFannedOut(digestId, deps.clock());
  log.info({ enqueued, empty, pages, resumedAfter: resumeAfter }, 'digest fanned out');
  return { digestId, enqueued, empty, pages };
}
