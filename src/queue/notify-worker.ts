// The notify stage's thin workers: a `notify` (fan-out) processor and a `notify-send` processor, and
// `startNotifyWorkers`, which the pipeline wires in (call `onReportPublished` after each publish).
// Decisions live in src/notify: who gets what (fan-out.ts), what a failure means
// (delivery-errors.ts), and the exactly-once send protocol (deliver.ts). In short, a per-(digest,
// subscriber) "sent" marker (HSETNX in a per-digest hash, 45 days) is written only after the SMTP
// server has answered 250; a crash between that 250 and the marker is the one window in which a
// second copy can go out (RFC 1047: SMTP has no two-phase commit). We chose that over writing the
// marker first, which would turn the same crash into a digest never sent. The retry sees the
// unfinished claim, keeps the Message-ID, and counts the send as `ambiguous`.
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import { DigestRenderCache } from '../notify/render-cache.js';
import {
  deliverDigest,
  type DeliverDeps,
  type DeliverOutcome,
  type DigestSource,
  type SendOrder,
} from '../notify/deliver.js';
import { entryFromStored, digestIds, publicPostUrl, type DigestEntry } from '../notify/digest.js';
import { digestIdOf, fanOut, type DigestRequest, type FanOutResult } from '../notify/fan-out.js';
import { publicRoutesWith } from '../notify/http.js';
import { createLinks } from '../notify/links.js';
import { createMailer, SMTP_TIMEOUTS_MS, type Mailer } from '../notify/mailer.js';
import type { NotifySettings } from '../notify/notify-settings.js';
import { NotifyStore } from '../notify/notify-store.js';
import { cronPatternOf, systemClock, type Clock } from '../notify/schedule.js';
import { SubscriberStore } from '../notify/subscribers.js';
import { loadNotifyTemplates, type NotifyTemplates } from '../notify/templates.js';
import { AppError, isAppError } from '../shared/app-error.js';
import type { Logger } from '../shared/logger.js';
import { isFinalAttempt } from './attempts.js';
import { unsubscribeByMail, type UnsubscribeMailOutcome } from '../notify/unsubscribe-mail.js';
import { createRedis, describeTarget, logQueueError, type RedisTarget } from './connection.js';
import type { Store } from './store.js';
import { uniqueWorkerName } from './worker-name.js';

/**
 * The notify stage's queues. `notify` holds fan-out jobs (one per digest: a published report, or a
 * daily run from the job scheduler); `notify-send` holds one job per (digest, subscriber), so the
 * send rate limiter applies to sends alone and a digest to 10,000 subscribers is 10,000 small
 * independent jobs that survive a restart half-way.
 */
export const NOTIFY_QUEUE_NAMES = { fanOut: 'notify', send: 'notify-send' } as const;

/** A fan-out job: a report's immediate email, or a daily run (`runAt` absent: the scheduler's time). */
export type FanOutJobData =
  | { readonly kind: 'report'; readonly reportId: string }
  | { readonly kind: 'daily'; readonly runAt?: number };

/** Job payloads of the notify queues, plain JSON. */
export interface NotifyJobDataMap {
  notify: FanOutJobData;
  'notify-send': SendOrder;
}

/** Deterministic job ids (no `:`): adding the same digest or send twice is a no-op. */
export const notifyJobIds = {
  fanOut: (digestId: string): string => `notify-fanout-${digestId}`,
  send: (digestId: string, subscriberId: string): string => `notify-${digestId}-${subscriberId}`,
  /** The BullMQ job scheduler of the daily digest. */
  dailyScheduler: 'notify-daily',
};

/**
 * Retry policies. Sends: SMTP 4xx and broken connections recover (greylisting typically asks for
 * 5–15 minutes), so 8 attempts with exponential backoff from 30 s span about two hours. Completed
 * send jobs go after an hour: the sent marker, not the job, is what prevents a second email. The
 * fan-out keeps its completed jobs a week so a repeated trigger is deduplicated by id.
 */
export const NOTIFY_JOB_OPTIONS = {
  fanOut: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 5_000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
    removeOnFail: false,
  },
  send: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 30_000 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  },
} as const satisfies Record<string, JobsOptions>;

/**
 * A send job's lock must outlast the longest wait inside it — connecting, the greeting, and an idle
 * socket, as the SMTP mailer's timeouts allow — or BullMQ takes a job waiting on a slow server for
 * stalled and runs it again. Twice their sum leaves room for a message queued behind others in the
 * connection pool.
 */
export const SEND_LOCK_DURATION_MS =
  2 * (SMTP_TIMEOUTS_MS.connection + SMTP_TIMEOUTS_MS.greeting + SMTP_TIMEOUTS_MS.socket);

/** When SMTP refuses our credentials or sender, sends pause this long, keeping their attempts. */
export const SMTP_CONFIG_PAUSE_MS = 5 * 60_000;

/** A report published again within this time may still need its fan-out (see `onReportPublished`). */
const REFANOUT_GRACE_MS = 24 * 3600 * 1000;

/**
 * The digest entries of reports, read from the pipeline's store. The board link is the first post,
 * in `boardTargets` order, with an http(s) address: the file board (first by default) only has
 * `file://` pages on this machine, so a Rhymix or webhook post after it is the one to link, and
 * with the file board alone there is no link (see `publicPostUrl`).
 */
export function storeDigestSource(store: Store, boardTargets: readonly string[]): DigestSource {
  return {
    async entries(reportIds) {
      const out: DigestEntry[] = [];
      for (const reportId of reportIds) {
        const [stored, summary] = await Promise.all([store.getReport(reportId), store.getSummary(reportId)]);
        if (stored === null || summary === null) continue;
        let postUrl: string | null = null;
        for (const target of boardTargets) {
          postUrl = publicPostUrl((await store.getPost(reportId, target))?.url);
          if (postUrl !== null) break;
        }
        out.push(entryFromStored({ reportId, report: stored.report, summary: summary.summary, postUrl }));
      }
      return out;
    },
  };
}

/** Everything a notify processor needs. */
export interface NotifyProcessorDeps extends DeliverDeps {
  readonly fanOutPageSize?: number;
}

/** The `notify` (fan-out) processor: resumes after the last finished page, enqueues send jobs. */
export async function processNotifyFanOut(
  job: Job<FanOutJobData>,
  deps: NotifyProcessorDeps,
  sendQueue: Queue<SendOrder>,
): Promise<FanOutResult> {
  const request: DigestRequest =
    job.data.kind === 'report'
      ? { kind: 'report', reportId: job.data.reportId }
      : // A scheduler job carries its scheduled time in prevMillis: a late run covers the same window.
        { kind: 'daily', runAt: job.data.runAt ?? job.opts.prevMillis ?? job.timestamp };
  const progress = job.progress;
  const resumeAfter =
    typeof progress === 'object' && typeof (progress as { after?: unknown }).after === 'string'
      ? (progress as { after: string }).after
      : null;
  return fanOut(
    request,
    resumeAfter === '' ? null : resumeAfter,
    { ...deps, ...(deps.fanOutPageSize === undefined ? {} : { pageSize: deps.fanOutPageSize }) },
    {
      enqueue: async (orders) => {
        await sendQueue.addBulk(
          orders.map((order) => ({
            name: 'send',
            data: order,
            opts: { jobId: notifyJobIds.send(order.digestId, order.subscriberId) },
          })),
        );
      },
      progress: (after, done) => job.updateProgress({ after, ...done }),
    },
  );
}

/** The `notify-send` processor: one email to one subscriber (see `deliverDigest`). */
export async function processNotifySend(
  job: Job<SendOrder>,
  deps: NotifyProcessorDeps,
  onSent?: () => void,
): Promise<DeliverOutcome> {
  const claim = JSON.stringify({
    jobId: job.id,
    attempt: job.attemptsMade + 1,
    at: new Date(deps.clock()).toISOString(),
    pid: process.pid,
  });
  const outcome = await deliverDigest(job.data, claim, deps);
  if (outcome.state === 'sent') onSent?.();
  return outcome;
}

export interface NotifyWorkersOptions {
  readonly redis: RedisTarget;
  readonly prefix: string;
  readonly logger: Logger;
  readonly settings: NotifySettings;
  /** Reads reports for digests; `storeDigestSource(store, targets)` in the service. */
  readonly source: DigestSource;
  /** Which workers this process runs; every process can enqueue. */
  readonly workers: { readonly fanOut: boolean; readonly send: boolean };
  /** Default: SMTP when configured, else the outbox (`createMailer`). Closed by `close()` only if created here. */
  readonly mailer?: Mailer;
  readonly templates?: NotifyTemplates;
  readonly clock?: Clock;
  /** Concurrent sends per process. Default: 4 per pooled SMTP connection, so the pool never waits on Redis. */
  readonly sendConcurrency?: number;
  /** Default {@link SEND_LOCK_DURATION_MS}. Tests of a crash use a short one so stalled jobs return soon. */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for (BullMQ default 30 s). */
  readonly stalledIntervalMs?: number;
  /** Multiplies every backoff delay (tests use a small one). */
  readonly backoffScale?: number;
  readonly fanOutPageSize?: number;
  /** Upsert the daily job scheduler at start (the process that runs the fan-out worker should). */
  readonly scheduleDaily?: boolean;
  /** How long sends pause after SMTP refuses our credentials or sender; default {@link SMTP_CONFIG_PAUSE_MS}. */
  readonly configPauseMs?: number;
  /** Called for every message SMTP (or the outbox) accepted, e.g. `() => metrics.emailsSent.inc()`. */
  readonly onSent?: () => void;
}

/** A report's email, as the admin pages show it (the shape of `MailStatus` in src/admin/views.ts). */
export interface MailStatusInfo {
  readonly state: 'done' | 'failed' | 'pending';
  readonly detail: string | null;
  readonly at: string | null;
}

/** The running notify queues and workers. */
export interface NotifyWorkers {
  readonly fanOutQueue: Queue<FanOutJobData>;
  readonly sendQueue: Queue<SendOrder>;
  readonly subscribers: SubscriberStore;
  readonly notifyStore: NotifyStore;
  readonly mailer: Mailer;
  /**
   * Call when a report has been published (after its publish job): records the publish time (what
   * daily digests choose from) and, the first time, enqueues its immediate fan-out. An edit of an
   * already published post notifies nobody again. Returns whether a fan-out was enqueued.
   */
  onReportPublished(reportId: string, at?: number): Promise<boolean>;
  /** Enqueue a daily digest run now (or at `runAt`), as `isw-ko digest send` does. Returns its digest id. */
  sendDaily(runAt?: number): Promise<string>;
  /**
   * `reprocess --from notify`: fan a report's email out again. Whoever already had it is skipped by
   * the sent markers, so only subscribers who missed it (new, or failed before) get a copy.
   */
  renotify(reportId: string): Promise<string>;
  /** Whether a report's email went out (the admin report page's "발송" stage); null before publication. */
  mailStatus(reportId: string): Promise<MailStatusInfo | null>;
  /**
   * A mail to the List-Unsubscribe `mailto:` address, by its raw Subject header: unsubscribes the
   * token's subscriber ('none' when the Subject carries no unsubscribe token). For the inbox.
   */
  unsubscribeByMail(subject: string): Promise<UnsubscribeMailOutcome>;
  /** The public subscribe/confirm/unsubscribe routes, options bound: the admin server's `providers.publicRoutes`. */
  readonly publicRoutes: FastifyPluginAsync;
  /** Create or update the daily job scheduler (DIGEST_TIME in DIGEST_TIME_ZONE). Returns its next run (ms). */
  ensureDailySchedule(): Promise<number | null>;
  /** Workers first (running jobs finish or are released), then queues, mailer, Redis. Safe to call twice. */
  close(): Promise<void>;
}

function scaled(options: JobsOptions, scale: number): JobsOptions {
  const backoff = options.backoff;
  if (typeof backoff !== 'object') return options;
  return {
    ...options,
    backoff: { ...backoff, delay: Math.max(1, Math.round((backoff.delay ?? 1000) * scale)) },
  };
}

/**
 * Start the notify queues and the requested workers. The lead wires this into the pipeline: call
 * `onReportPublished(reportId)` when a publish job completes.
 */
export async function startNotifyWorkers(options: NotifyWorkersOptions): Promise<NotifyWorkers> {
  const { settings, logger } = options;
  const clock = options.clock ?? systemClock;
  const scale = options.backoffScale ?? 1;
  const log = logger.child({ stage: 'notify' });
  const redis: Redis = createRedis(options.redis, 'isw-ko-notify');
  redis.on('error', (err) => {
    log.warn(
      { err: err.message, redis: describeTarget(options.redis) },
      'redis connection error; reconnecting',
    );
  });
  await redis.ping();
  const subscribers = new SubscriberStore(redis, options.prefix, clock);
  const notifyStore = new NotifyStore(redis, options.prefix);
  const ownMailer = options.mailer === undefined;
  const mailer = options.mailer ?? createMailer(settings, logger);
  const templates = options.templates ?? (await loadNotifyTemplates());
  const deps: NotifyProcessorDeps = {
    subscribers,
    notifyStore,
    source: options.source,
    mailer,
    templates,
    links: createLinks({
      baseUrl: settings.publicBaseUrl,
      secret: settings.tokenSecret,
      mailto: settings.unsubscribeMailto,
    }),
    renderCache: new DigestRenderCache(),
    from: settings.from,
    timeZone: settings.digestTimeZone,
    bounceLimit: settings.bounceLimit,
    clock,
    logger,
    ...(options.fanOutPageSize === undefined ? {} : { fanOutPageSize: options.fanOutPageSize }),
  };

  const fanOutQueue = new Queue<FanOutJobData>(NOTIFY_QUEUE_NAMES.fanOut, {
    connection: redis,
    prefix: options.prefix,
    defaultJobOptions: scaled(NOTIFY_JOB_OPTIONS.fanOut, scale),
  });
  const sendQueue = new Queue<SendOrder>(NOTIFY_QUEUE_NAMES.send, {
    connection: redis,
    prefix: options.prefix,
    defaultJobOptions: scaled(NOTIFY_JOB_OPTIONS.send, scale),
  });
  for (const queue of [fanOutQueue, sendQueue]) {
    queue.on('error', (err) => {
      logQueueError(log, err, { queue: queue.name }, 'queue');
    });
  }

  const workers: Worker[] = [];
  // BullMQ does not close a connection it was handed: these are ours to quit after the workers.
  const workerConnections: Redis[] = [];
  const workerConnection = (name: string): Redis => {
    const connection = createRedis(options.redis, name);
    connection.on('error', (err) => {
      log.warn({ err: err.message, connection: name }, 'redis connection error; reconnecting');
    });
    workerConnections.push(connection);
    return connection;
  };
  const watch = (worker: Worker): void => {
    worker.on('error', (err) => {
      logQueueError(log, err, { queue: worker.name }, 'worker');
    });
    worker.on('failed', (job, err) => {
      if (job === undefined) return;
      // `attemptsMade` already counts the attempt that just failed.
      const final =
        err instanceof UnrecoverableError ||
        isFinalAttempt({ attemptsMade: job.attemptsMade - 1, opts: job.opts });
      const fields = {
        queue: worker.name,
        jobId: job.id,
        attemptsMade: job.attemptsMade,
        reason: err.message,
      };
      if (final) log.error(fields, 'job failed for good; it stays in the failed set for an admin to retry');
      else log.warn(fields, 'job failed; it will be retried with backoff');
    });
    workers.push(worker);
  };
  const workerOptions = {
    prefix: options.prefix,
    // Named per process like the pipeline's workers: the admin pages spot a send whose process died.
    name: uniqueWorkerName(),
    lockDuration: options.lockDurationMs ?? SEND_LOCK_DURATION_MS,
    ...(options.stalledIntervalMs === undefined ? {} : { stalledInterval: options.stalledIntervalMs }),
    maxStalledCount: 2,
  };

  if (options.workers.fanOut) {
    const worker = new Worker<FanOutJobData>(
      NOTIFY_QUEUE_NAMES.fanOut,
      async (job) => {
        try {
          return await processNotifyFanOut(job, deps, sendQueue);
        } catch (err) {
          if (err instanceof AppError && !err.retriable)
            throw new UnrecoverableError(`${err.code}: ${err.describe()}`);
          throw err;
        }
      },
      { ...workerOptions, connection: workerConnection('isw-ko-notify-fanout'), concurrency: 1 },
    );
    watch(worker);
  }

  if (options.workers.send) {
    const worker: Worker<SendOrder> = new Worker<SendOrder>(
      NOTIFY_QUEUE_NAMES.send,
      async (job) => {
        try {
          return await processNotifySend(job, deps, options.onSent);
        } catch (err) {
          if (isAppError(err, 'SMTP_CONFIG')) {
            // Every message would fail alike: pause the queue (no attempt used) and say what to fix.
            const pauseMs = options.configPauseMs ?? SMTP_CONFIG_PAUSE_MS;
            log.error({ jobId: job.id, pauseMs }, err.describe());
            await sendQueue.rateLimit(pauseMs);
            throw Worker.RateLimitError();
          }
          const permanent = err instanceof AppError && !err.retriable;
          // Bounces and refused messages were counted where they were decided; other failures
          // count once, on the attempt after which BullMQ gives up.
          const countedAlready =
            isAppError(err, 'SMTP_RECIPIENT_REJECTED') || isAppError(err, 'SMTP_MESSAGE_REJECTED');
          if ((permanent || isFinalAttempt(job)) && !countedAlready)
            await notifyStore.count(job.data.digestId, 'failed');
          if (permanent) throw new UnrecoverableError(`${err.code}: ${err.describe()}`);
          throw err;
        }
      },
      {
        ...workerOptions,
        connection: workerConnection('isw-ko-notify-send'),
        concurrency: options.sendConcurrency ?? settings.poolSize * 4,
        // MAIL_RATE_PER_SECOND across every worker process (BullMQ keeps the limiter in Redis).
        ...(settings.ratePerSecond > 0 ? { limiter: { max: settings.ratePerSecond, duration: 1000 } } : {}),
      },
    );
    watch(worker);
  }

  let closing: Promise<void> | null = null;
  const handle: NotifyWorkers = {
    fanOutQueue,
    sendQueue,
    subscribers,
    notifyStore,
    mailer,
    async onReportPublished(reportId, at = clock()) {
      const digestId = digestIds.immediate(reportId);
      const first = await notifyStore.recordPublished(reportId, at);
      if (!first) {
        // A crash between recording and enqueueing would lose the email: within a day of the first
        // publish, a repeat enqueues the fan-out again unless it finished (job ids deduplicate).
        const publishedAt = (await notifyStore.publishedAt(reportId)) ?? at;
        if (clock() - publishedAt > REFANOUT_GRACE_MS || (await notifyStore.fannedOutAt(digestId)) !== null)
          return false;
      }
      await fanOutQueue.add('report', { kind: 'report', reportId }, { jobId: notifyJobIds.fanOut(digestId) });
      log.info({ reportId, digestId, first }, 'immediate digest enqueued');
      return true;
    },
    async renotify(reportId) {
      if ((await notifyStore.publishedAt(reportId)) === null)
        await notifyStore.recordPublished(reportId, clock());
      const digestId = digestIds.immediate(reportId);
      // A fresh job id: the first fan-out job may still be kept as completed, which would dedupe this one.
      const jobId = `${notifyJobIds.fanOut(digestId)}-re${clock().toString(36)}`;
      await fanOutQueue.add('report', { kind: 'report', reportId }, { jobId });
      return `queued ${jobId}: immediate subscribers who have not had ${digestId} get it`;
    },
    unsubscribeByMail(subject) {
      return unsubscribeByMail(subject, { subscribers, tokenSecret: settings.tokenSecret, clock, logger });
    },
    async mailStatus(reportId) {
      const publishedAt = await notifyStore.publishedAt(reportId);
      if (publishedAt === null) return null;
      const digestId = digestIds.immediate(reportId);
      const [stats, fannedOutAt] = await Promise.all([
        notifyStore.stats(digestId),
        notifyStore.fannedOutAt(digestId),
      ]);
      const finished = stats.sent + stats.alreadySent + stats.skipped + stats.failed + stats.bounced;
      const waiting = Math.max(0, stats.enqueued - finished);
      const parts = [`즉시 발송 ${stats.sent}건`];
      if (stats.bounced > 0) parts.push(`반송 ${stats.bounced}건`);
      if (stats.failed > 0) parts.push(`실패 ${stats.failed}건`);
      if (waiting > 0) parts.push(`대기 ${waiting}건`);
      const state =
        fannedOutAt === null || waiting > 0
          ? 'pending'
          : stats.sent === 0 && stats.failed + stats.bounced > 0
            ? 'failed'
            : 'done';
      return { state, detail: parts.join(' · '), at: new Date(fannedOutAt ?? publishedAt).toISOString() };
    },
    publicRoutes: publicRoutesWith({
      subscribers,
      notifyStore,
      mailer,
      templates,
      links: deps.links,
      tokenSecret: settings.tokenSecret,
      from: settings.from,
      logger,
      clock,
    }),
    async sendDaily(runAt = clock()) {
      const digestId = digestIdOf({ kind: 'daily', runAt }, settings.digestTimeZone);
      await fanOutQueue.add('daily', { kind: 'daily', runAt }, { jobId: notifyJobIds.fanOut(digestId) });
      return digestId;
    },
    async ensureDailySchedule() {
      const job = await fanOutQueue.upsertJobScheduler(
        notifyJobIds.dailyScheduler,
        { pattern: cronPatternOf(settings.digestTime), tz: settings.digestTimeZone },
        { name: 'daily', data: { kind: 'daily' }, opts: scaled(NOTIFY_JOB_OPTIONS.fanOut, scale) },
      );
      const next = job.opts.prevMillis ?? null;
      log.info(
        {
          pattern: cronPatternOf(settings.digestTime),
          tz: settings.digestTimeZone,
          next: next === null ? null : new Date(next).toISOString(),
        },
        'daily digest scheduled',
      );
      return next;
    },
    close() {
      closing ??= (async () => {
        const steps: (() => Promise<unknown>)[] = [
          ...workers.map((w) => () => w.close()),
          () => fanOutQueue.close(),
          () => sendQueue.close(),
          ...(ownMailer ? [() => mailer.close()] : []),
          ...workerConnections.map((c) => () => c.quit()),
          () => redis.quit(),
        ];
        for (const step of steps) {
          try {
            await step();
          } catch (err) {
            log.warn({ err }, 'error while closing the notify workers; continuing');
          }
        }
      })();
      return closing;
    },
  };
  if (options.scheduleDaily === true) await handle.ensureDailySchedule();
  log.info(
    {
      workers: options.workers,
      redis: describeTarget(options.redis),
      mailer: mailer.kind,
      ratePerSecond: settings.ratePerSecond,
    },
    'notify workers started',
  );
  return handle;
}
