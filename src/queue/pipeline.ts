import { Backoffs, DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ParseError, type Report } from '../parse/index.js';
import { AppError, isAppError } from '../shared/app-error.js';
import { TIMED_OUT, within } from '../shared/timeout.js';
import type { Logger } from '../shared/logger.js';
import type { SummaryRecord } from '../summarize/summary.js';
import { isFinalAttempt } from './attempts.js';
import { createRedis, describeTarget, logQueueError, redisOptions, type RedisTarget } from './connection.js';
import { processIngest } from './ingest-worker.js';
import {
  emailIdOf,
  jobIds,
  QUEUE_NAMES,
  type EmailOrigin,
  type JobDataMap,
  type QueueName,
} from './names.js';
import { jobOptions } from './options.js';
import { processPublish, type PublishTarget } from './publish-worker.js';
import { Holds } from './holds.js';
import { Store } from './store.js';
import { uniqueWorkerName } from './worker-name.js';
import { processSummarize } from './summarize-worker.js';

export interface PipelineOptions {
  readonly redis: RedisTarget;
  /** Key prefix of every queue and stored record. */
  readonly prefix: string;
  readonly logger: Logger;
  /** Which stages this process works on; every process can add jobs to every queue. */
  readonly workers: readonly QueueName[];
  readonly parse: (raw: Buffer) => Promise<Report>;
  /**
   * Emails larger than this (PARSE_MAX_MESSAGE_BYTES) are rejected before their bytes reach Redis,
   * which runs with `noeviction`: a 60 MB drop would otherwise sit in memory for good. The file or
   * the IMAP message stays where it was, so nothing is lost. Unset: no limit here (the parser's).
   */
  readonly maxMessageBytes?: number;
  readonly summarize: (reportId: string, report: Report) => Promise<SummaryRecord>;
  readonly targets: ReadonlyMap<string, PublishTarget>;
  readonly summarizeConcurrency: number;
  /** Must exceed the LLM timeout: a job whose lock lapses is taken for stalled and run twice. */
  readonly lockDurationMs: number;
  /** How often workers look for stalled jobs (a dead worker's). */
  readonly stalledIntervalMs?: number;
  /** How long summaries wait when the LLM server cannot be reached at all (doubles up to 10 min). */
  readonly llmUnreachableDelayMs?: number;
  /** Multiplies every backoff delay (tests use a small one). */
  readonly backoffScale?: number;
  /** Told after each successful publish of a report (the notify stage mails its subscribers). */
  readonly onPublished?: (reportId: string) => Promise<void>;
  /** Told of every finished attempt of this process's workers (metrics); must not throw. */
  readonly onJobFinished?: (event: JobFinishedEvent) => void;
}

/** The job states `counts()` reports (and the admin pages show), for every queue alike. */
export const COUNTED_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;

/** How long start-up waits for Redis to answer a first PING before it gives up with the reason. */
const REDIS_START_TIMEOUT_MS = 15_000;

/** What became of an email handed to {@link Pipeline.enqueueEmail}. */
export interface EnqueuedEmail {
  readonly emailId: string;
  /** The `ingest` job, or null when the email was rejected before it was queued. */
  readonly jobId: string | null;
  readonly rejected: ParseError | null;
}

/** One finished attempt of a job, as this process's workers saw it. */
export interface JobFinishedEvent {
  readonly queue: QueueName;
  readonly jobId: string | undefined;
  readonly outcome: 'completed' | 'failed';
  /** A failure that will not be retried (the job stays in the failed set for an admin). */
  readonly final: boolean;
  /** From the start of this attempt to its end; null when BullMQ did not record the start. */
  readonly durationMs: number | null;
}

type Queues = { readonly [Q in QueueName]: Queue<JobDataMap[Q]> };

/**
 * The BullMQ side of isw-ko: one queue per stage, workers for the stages this process runs, and
 * the decisions that belong to the queue (retry, rate-limit, wait, give up) in one place.
 */
export class Pipeline {
  readonly store: Store;
  /** Reports an admin held back from the boards. */
  readonly holds: Holds;
  readonly queues: Queues;
  private readonly options: PipelineOptions;
  private readonly redis: Redis;
  private readonly workers: Worker[] = [];
  private closing: Promise<void> | null = null;
  private unreachableStreak = 0;
  /**
   * This process's workers' name. BullMQ stores it on every job a worker takes (`processedBy`) and
   * in the name of the worker's Redis connection, so the admin pages can tell an active job whose
   * process is gone (a forced exit, a kill: it stays active until its lock lapses) from one that
   * is running. Unique per pipeline, so a restarted process is not taken for the dead one.
   */
  readonly workerName = uniqueWorkerName();

  private constructor(options: PipelineOptions, redis: Redis) {
    this.options = options;
    this.redis = redis;
    this.store = new Store(redis, options.prefix);
    this.holds = new Holds(redis, options.prefix);
    const make = <Q extends QueueName>(name: Q): Queue<JobDataMap[Q]> => {
      const queue = new Queue<JobDataMap[Q]>(name, {
        connection: redis,
        prefix: options.prefix,
        defaultJobOptions: jobOptions(name, options.backoffScale),
      });
      queue.on('error', (err) => {
        logQueueError(options.logger, err, { queue: name }, 'queue');
      });
      return queue;
    };
    this.queues = { ingest: make('ingest'), summarize: make('summarize'), publish: make('publish') };
  }

  /** Connect, create the queues and start the requested workers. */
  static async start(options: PipelineOptions): Promise<Pipeline> {
    const redis = createRedis(options.redis, 'isw-ko-main');
    redis.on('error', (err) => {
      options.logger.warn(
        { err: err.message, redis: describeTarget(options.redis) },
        'redis connection error; reconnecting',
      );
    });
    // ioredis retries a refused connection forever; a command that cannot reach Redis at all
    // should say so and exit, not wait silently (a supervisor restarts `run` if it must wait).
    if ((await within(redis.ping(), REDIS_START_TIMEOUT_MS)) === TIMED_OUT) {
      redis.disconnect();
      throw new AppError(
        'REDIS_UNREACHABLE',
        'operational',
        `Redis at ${describeTarget(options.redis)} did not answer within ${REDIS_START_TIMEOUT_MS / 1000} s`,
        {
          hint: 'start Redis, or fix REDIS_URL (unset it to use the embedded redis-server); `isw-ko doctor` checks it',
        },
      );
    }
    const pipeline = new Pipeline(options, redis);
    for (const name of options.workers) pipeline.startWorker(name);
    options.logger.info(
      { workers: options.workers, redis: describeTarget(options.redis), prefix: options.prefix },
      'pipeline started',
    );
    return pipeline;
  }

  /**
   * Hand an email to the pipeline: store its bytes, then add its `ingest` job. Both steps are
   * idempotent (SET NX, deterministic job id), so delivering the same email twice is harmless.
   * An email over `maxMessageBytes` is rejected at once instead (listed with the parser's
   * rejections, `MESSAGE_TOO_LARGE`): `jobId` is null and `rejected` says why.
   */
  async enqueueEmail(raw: Buffer, origin: EmailOrigin): Promise<EnqueuedEmail> {
    const emailId = emailIdOf(raw);
    const limit = this.options.maxMessageBytes;
    if (limit !== undefined && raw.length > limit) {
      return {
        emailId,
        jobId: null,
        rejected: await this.rejectTooLarge(emailId, origin, raw.length, limit),
      };
    }
    const created = await this.store.putEmail(emailId, raw, origin);
    if (!created) {
      // The same Message-ID again (a second copy, a re-sent file): its job id is the same too, so
      // nothing new happens; said here because no stage will mention it.
      this.options.logger.info(
        { stage: 'ingest', emailId, origin },
        'email already received (same Message-ID): processed once, nothing new queued',
      );
    }
    const jobId = jobIds.ingest(emailId);
    await this.queues.ingest.add('ingest', { emailId, origin }, { jobId });
    return { emailId, jobId, rejected: null };
  }

  /**
   * List an email over the size limit with the rejected emails (MESSAGE_TOO_LARGE), without its
   * bytes: from {@link enqueueEmail}, and for IMAP mail too large to fetch (`where` says where the
   * message still is and how to take it once the limit is raised).
   */
  async rejectTooLarge(
    emailId: string,
    origin: EmailOrigin,
    bytes: number,
    limit: number,
    where = '',
  ): Promise<ParseError> {
    const err = new ParseError(
      'MESSAGE_TOO_LARGE',
      `the message has ${bytes} bytes, more than the limit of ${limit}${where === '' ? '' : `; ${where}`}`,
    );
    await this.store.reject({
      emailId,
      origin,
      code: err.code,
      reason: err.describe(),
      at: new Date().toISOString(),
    });
    this.options.logger.warn(
      { stage: 'ingest', emailId, origin, code: err.code, bytes },
      `email rejected before it was stored: ${err.describe()}`,
    );
    return err;
  }

  async enqueueSummarize(reportId: string, force = false): Promise<void> {
    // A forced re-run needs a fresh job id: the old one may still sit in the completed set.
    const jobId = force ? `${jobIds.summarize(reportId)}-r${Date.now()}` : jobIds.summarize(reportId);
    await this.queues.summarize.add('summarize', force ? { reportId, force } : { reportId }, { jobId });
  }

  /**
   * Queue the post of a report on one target. `force` (a re-run after a new summary, or an admin's
   * re-post) needs a fresh job id: the deterministic one may still sit in the completed set, where
   * BullMQ would take the add for a repeat and do nothing. The publish worker edits the post the
   * target already has, so a forced run never makes a second one.
   */
  async enqueuePublish(reportId: string, target: string, force = false): Promise<void> {
    const jobId = force
      ? `${jobIds.publish(reportId, target)}-r${Date.now()}`
      : jobIds.publish(reportId, target);
    await this.queues.publish.add('publish', { reportId, target }, { jobId });
  }

  /** Where this pipeline's Redis is, for parts that need a connection of their own. */
  get redisTarget(): RedisTarget {
    return this.options.redis;
  }

  /** The names of the publish targets (boards) every report goes to. */
  get targetNames(): string[] {
    return [...this.options.targets.keys()];
  }

  /** PING the pipeline's Redis connection (for `/readyz`); waits while ioredis reconnects. */
  async ping(): Promise<string> {
    return this.redis.ping();
  }

  /** The workers of this process, for `/readyz`: a closed or crashed worker is not ready. */
  workerStatus(): { readonly queue: string; readonly running: boolean }[] {
    return this.workers.map((w) => ({ queue: w.name, running: w.isRunning() }));
  }

  private startWorker(name: QueueName): void {
    const o = this.options;
    const log = o.logger.child({ queue: name });
    const targets = [...o.targets.keys()];
    const processors: { [Q in QueueName]: (job: Job<JobDataMap[Q]>, token?: string) => Promise<unknown> } = {
      ingest: (job) =>
        processIngest(job, {
          store: this.store,
          parse: o.parse,
          enqueueSummarize: (id) => this.enqueueSummarize(id),
          logger: o.logger,
        }),
      summarize: (job, token) => this.runSummarize(job, token, targets),
      publish: (job) =>
        processPublish(job, {
          store: this.store,
          holds: this.holds,
          targets: o.targets,
          logger: o.logger,
          ...(o.onPublished === undefined ? {} : { onPublished: o.onPublished }),
        }),
    };
    const worker = new Worker(name, processors[name] as (job: Job) => Promise<unknown>, {
      connection: redisOptions(o.redis, `isw-ko-${name}-worker`),
      prefix: o.prefix,
      name: this.workerName,
      // Publishing to one board is spaced by its adapter (Rhymix's spam filter); a few at once keep a
      // file board or webhook busy while one post waits on the disk.
      concurrency: name === 'summarize' ? o.summarizeConcurrency : 4,
      lockDuration: o.lockDurationMs,
      // BullMQ honours a manual rate limit (the 429 path below) only on a worker that has a limiter;
      // this one is loose enough never to bind by itself.
      ...(name === 'summarize' ? { limiter: { max: 1000, duration: 1000 } } : {}),
      ...(o.stalledIntervalMs === undefined ? {} : { stalledInterval: o.stalledIntervalMs }),
      maxStalledCount: 2,
    });
    worker.on('error', (err) => {
      logQueueError(log, err, {}, 'worker');
    });
    worker.on('completed', (job) => {
      o.onJobFinished?.({
        queue: name,
        jobId: job.id,
        outcome: 'completed',
        final: true,
        durationMs: attemptDuration(job),
      });
    });
    worker.on('failed', (job, err) => {
      if (job === undefined) return;
      const final =
        err instanceof UnrecoverableError ||
        isFinalAttempt({ attemptsMade: job.attemptsMade - 1, opts: job.opts });
      const fields = { jobId: job.id, attemptsMade: job.attemptsMade, reason: err.message };
      if (final) log.error(fields, 'job failed for good; it stays in the failed set for an admin to retry');
      else log.warn(fields, 'job failed; it will be retried with backoff');
      o.onJobFinished?.({
        queue: name,
        jobId: job.id,
        outcome: 'failed',
        final,
        durationMs: attemptDuration(job),
      });
      const data: unknown = job.data;
      const reportId = reportIdIn(data);
      if (final && reportId !== null && name === 'publish' && o.onPublished !== undefined) {
        // A board that gave up must not keep the subscribers' mail back for good: it goes out with
        // the boards that have the post (the admin can re-post, and the mail is not sent twice).
        void this.mailWithoutFailedBoard(reportId, o.onPublished, log);
      }
      if (final && reportId !== null && name !== 'ingest') {
        // The report's page shows the failure and which job to retry; a later success overwrites it.
        this.store
          .setStage(reportId, name, {
            state: 'failed',
            at: new Date().toISOString(),
            detail: err.message,
            ...(job.id === undefined ? {} : { jobId: job.id }),
          })
          .catch((e: unknown) => {
            log.warn({ err: e, jobId: job.id }, 'could not record the failed stage');
          });
      }
    });
    this.workers.push(worker);
  }

  /**
   * The summarize processor plus the queue-level decisions about LLM errors. Whenever the job is
   * going to wait (an unreachable LLM, a 429, an attempt that backs off) the report's summarize
   * stage says why and until when, before the job is moved: the admin pages and `jobs list` show
   * it, and the success or final failure that follows replaces it.
   */
  private async runSummarize(
    job: Job<JobDataMap['summarize']>,
    token: string | undefined,
    targets: readonly string[],
  ): Promise<unknown> {
    const o = this.options;
    const log = o.logger.child({ stage: 'summarize', jobId: job.id, reportId: job.data.reportId });
    try {
      const result = await processSummarize(job, {
        store: this.store,
        summarize: o.summarize,
        targets,
        // A forced summary (an admin's re-run) must reach the board even if the post was made before.
        enqueuePublish: (id, target) => this.enqueuePublish(id, target, job.data.force === true),
        logger: o.logger,
      });
      this.unreachableStreak = 0;
      return result;
    } catch (err) {
      if (isAppError(err, 'LLM_RATE_LIMITED')) {
        // 429: pause the whole queue for Retry-After instead of burning this job's attempts.
        const ms = typeof err.details.retryAfterMs === 'number' ? err.details.retryAfterMs : 30_000;
        log.warn(
          { code: err.code, retryAfterMs: ms },
          `${err.describe()}; the summarize queue waits ${Math.ceil(ms / 1000)} s (no attempt used)`,
        );
        await this.summaryWaits(job, err.describe(), ms, log);
        await this.queues.summarize.rateLimit(ms);
        throw Worker.RateLimitError();
      }
      if (isAppError(err, 'LLM_UNAVAILABLE') && err.details.unreachable === true && token !== undefined) {
        // Nothing answers at all: wait (no attempt used) and say what to configure.
        this.unreachableStreak += 1;
        const base = o.llmUnreachableDelayMs ?? 30_000;
        const delay = Math.min(10 * 60_000, base * 2 ** Math.min(this.unreachableStreak - 1, 5));
        // The message already says what to check and configure (its hint would repeat it).
        log.error(
          { code: err.code, retryInMs: delay },
          `${err.message} The summary waits ${Math.ceil(delay / 1000)} s and tries again (no attempt used); \`isw-ko jobs retry ${job.id ?? '<job id>'}\` runs it now.`,
        );
        await this.summaryWaits(job, err.message, delay, log);
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError();
      }
      if (err instanceof AppError && !err.retriable)
        throw new UnrecoverableError(`${err.code}: ${err.describe()}`);
      if (!(err instanceof UnrecoverableError) && !isFinalAttempt(job)) {
        // BullMQ retries it after its backoff; the 'failed' listener logs the attempt.
        const backoff = Backoffs.normalize(job.opts.backoff ?? 0);
        const delay =
          backoff === undefined
            ? 0
            : await Backoffs.calculate(backoff, job.attemptsMade + 1, toError(err), job);
        await this.summaryWaits(job, toError(err).message, delay ?? 0, log);
      }
      throw err;
    }
  }

  /** After a board failed for good: mail the subscribers if some other board has the post. */
  private async mailWithoutFailedBoard(
    reportId: string,
    onPublished: (reportId: string) => Promise<void>,
    log: Logger,
  ): Promise<void> {
    try {
      const targets = [...this.options.targets.keys()];
      const missing = await this.store.targetsWithoutPost(reportId, targets);
      if (missing.length < targets.length) await onPublished(reportId);
    } catch (err) {
      log.warn(
        { err, reportId },
        'could not mail the subscribers after a board failed; `isw-ko reprocess --from notify` does',
      );
    }
  }

  /** Record on the report's summarize stage that its job waits, why, and until when. */
  private async summaryWaits(
    job: Job<JobDataMap['summarize']>,
    reason: string,
    delayMs: number,
    log: Logger,
  ): Promise<void> {
    const now = Date.now();
    try {
      await this.store.setStage(job.data.reportId, 'summarize', {
        state: 'waiting',
        at: new Date(now).toISOString(),
        detail: reason,
        retryAt: new Date(now + delayMs).toISOString(),
        ...(job.id === undefined ? {} : { jobId: job.id }),
      });
    } catch (e) {
      // The job waits all the same; only the admin pages miss the reason.
      log.warn({ err: e }, 'could not record on the report why its summary waits');
    }
  }

  /**
   * What BullMQ keeps about a job but its API does not return, for the admin pages: when a delayed
   * job is due (a delayed job's score is its due time × 0x1000 plus a counter, see BullMQ's
   * getDelayedScore.lua), and how long an active job's lock has left (gone: it lapsed, and the next
   * stalled-job check of a running worker takes the job over). `queue` lives in this Redis.
   */
  async jobTimes(queue: Queue, jobId: string): Promise<{ dueAt: number | null; lockTtlMs: number | null }> {
    const replies = await this.redis
      .multi()
      .zscore(queue.toKey('delayed'), jobId)
      .pttl(`${queue.toKey(jobId)}:lock`)
      .exec();
    const score: unknown = replies?.[0]?.[1];
    const ttl: unknown = replies?.[1]?.[1];
    return {
      dueAt: typeof score === 'string' ? Math.floor(Number(score) / 0x1000) : null,
      lockTtlMs: typeof ttl === 'number' && ttl >= 0 ? ttl : null,
    };
  }

  /** Counts per queue and state, for `isw-ko jobs` and the admin pages. */
  async counts(): Promise<Record<QueueName, Record<string, number>>> {
    const out = {} as Record<QueueName, Record<string, number>>;
    for (const name of QUEUE_NAMES) {
      out[name] = await this.queues[name].getJobCounts(...COUNTED_STATES);
    }
    return out;
  }

  /**
   * Stop taking jobs, let running ones finish (or release them to be picked up again), then close
   * the queues and Redis. Every step runs even if one fails; safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const steps: (() => Promise<unknown>)[] = [
        ...this.workers.map((w) => () => w.close()),
        ...QUEUE_NAMES.map((n) => () => this.queues[n].close()),
        () => this.redis.quit(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          this.options.logger.warn({ err }, 'error while closing the pipeline; continuing');
        }
      }
    })();
    return this.closing;
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** How long an attempt ran, from BullMQ's own timestamps. */
function attemptDuration(job: Job): number | null {
  if (job.processedOn === undefined) return null;
  return Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn);
}

/** The report a job is about, when its payload names one (summarize and publish jobs do). */
function reportIdIn(data: unknown): string | null {
  if (typeof data !== 'object' || data === null || !('reportId' in data)) return null;
  return typeof data.reportId === 'string' ? data.reportId : null;
}
