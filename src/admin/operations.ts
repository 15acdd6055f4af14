import type { Job, JobState, Queue } from 'bullmq';
import { jobIds, QUEUE_NAMES } from '../queue/names.js';
import { COUNTED_STATES, type Pipeline } from '../queue/pipeline.js';
import type { StageName, StageStatus } from '../queue/store.js';
import { AdminError } from './admin-error.js';
import { ageShort, durationShort } from './views.js';

/**
 * What admins do to jobs and reports, shared by the CLI (`isw-ko jobs …`, `isw-ko reprocess`) and
 * the web admin, so both behave the same. Thin on purpose: BullMQ and the pipeline do the work.
 */

/** Job states an admin can list. */
export const LISTABLE_STATES = [
  'failed',
  'waiting',
  'active',
  'delayed',
  'completed',
  'prioritized',
] as const;
export type ListableState = (typeof LISTABLE_STATES)[number];

/** Stages a report can be re-run from. */
export const REPROCESS_STAGES = ['summarize', 'publish', 'notify'] as const;
export type ReprocessStage = (typeof REPROCESS_STAGES)[number];

/** One job as `isw-ko jobs list` and the jobs page show it. */
export interface JobRow {
  /** A stage queue, or a notify queue (`notify`, `notify-send`). */
  readonly queue: string;
  readonly id: string;
  readonly state: ListableState;
  /** The report the job is about (summarize, publish), else null (ingest: not parsed yet). */
  readonly reportId: string | null;
  /** The report's title, or what is known of the email for an ingest job. */
  readonly title: string;
  readonly attemptsMade: number;
  readonly attempts: number;
  /**
   * A failed job that gave up before its attempts ran out (an UnrecoverableError: bad input or
   * configuration; or a job that stalled too often): `1/5` alone would promise four more tries.
   */
  readonly gaveUp: boolean;
  /** The last error (BullMQ's `failedReason`), or null. */
  readonly lastError: string | null;
  /**
   * Why a waiting or delayed job waits, when the pipeline recorded it: a summary held back by an
   * unreachable or rate-limiting LLM uses no attempt, so it has no `lastError` to show.
   */
  readonly waitReason: string | null;
  /** When a delayed job (or a job in a queue paused by the LLM's 429) runs next (ms since the epoch). */
  readonly runAt: number | null;
  /** When the job was added (ms since the epoch). */
  readonly createdAt: number;
  /** When its current or last attempt started (BullMQ's `processedOn`; cleared by a retry). */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /**
   * For an active job, whether the worker that took it is still connected to Redis: `gone` after a
   * forced exit or a kill (the job stays active until its lock lapses), `unknown` when the job does
   * not name its worker (one started by an older isw-ko). Null in other states.
   */
  readonly holder: 'alive' | 'gone' | 'unknown' | null;
  /** For an active job: how long its lock has left; null when it has none (it has lapsed). */
  readonly lockTtlMs: number | null;
}

/** Check a CLI or form value against a list of allowed names. */
export function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new AdminError('BAD_ARGUMENT', `unknown ${what} "${value}"`, {
    hint: `use one of ${allowed.join(', ')}`,
  });
}

/**
 * The queues admin job actions reach, by name: the pipeline's stage queues, then the others this
 * process has wired in (the notify stage's fan-out and send queues), so failed mail is listed and
 * retried like a failed summary. Plain BullMQ queues: the payload type does not matter here.
 */
export function adminQueues(pipeline: Pipeline, extra: readonly Queue[] = []): ReadonlyMap<string, Queue> {
  const queues = new Map<string, Queue>(QUEUE_NAMES.map((name) => [name, pipeline.queues[name] as Queue]));
  for (const queue of extra) queues.set(queue.name, queue);
  return queues;
}

/** The queues named, or all of them; an unknown name is a BAD_ARGUMENT listing the known ones. */
function pick(queues: ReadonlyMap<string, Queue>, name: string | undefined): [string, Queue][] {
  if (name === undefined) return [...queues];
  const queue = queues.get(oneOf('queue', name, [...queues.keys()]));
  return queue === undefined ? [] : [[name, queue]];
}

/** Job counts per queue and state, every queue of {@link adminQueues}. */
export async function jobCounts(
  pipeline: Pipeline,
  extraQueues: readonly Queue[] = [],
): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = await pipeline.counts();
  for (const queue of extraQueues) {
    out[queue.name] = await queue.getJobCounts(...COUNTED_STATES);
  }
  return out;
}

/**
 * Jobs in a state, newest first, across the stage queues (or one of them), with each job's report
 * title read from the store.
 */
export async function listJobs(
  pipeline: Pipeline,
  options: {
    readonly state: ListableState;
    readonly queue?: string;
    readonly limit?: number;
    /** More queues than the pipeline's (see {@link adminQueues}). */
    readonly extraQueues?: readonly Queue[];
  },
): Promise<JobRow[]> {
  const limit = options.limit ?? 100;
  const rows: JobRow[] = [];
  for (const [name, queue] of pick(adminQueues(pipeline, options.extraQueues), options.queue)) {
    const jobs = await queue.getJobs([options.state], 0, limit - 1);
    const facts = new QueueFacts(queue);
    for (const job of jobs) rows.push(await rowOf(pipeline, name, options.state, job, facts));
  }
  return rows.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
}

/** Job states that are not over yet: the job will run, or runs now. */
const UNFINISHED_STATES = ['active', 'waiting', 'prioritized', 'delayed'] as const;

/**
 * The summarize and publish jobs of one report that are not over yet (running, waiting, delayed),
 * for the report page and for `reprocess`, which must not queue a second job beside one of them.
 * Forced re-runs have ids of their own (`summarize-<id>-r<time>`), but every id of a report's job
 * starts with its queue and report id (see `jobIds`), so only the ids are read, and only the
 * report's own jobs loaded.
 */
export async function reportJobs(
  pipeline: Pipeline,
  reportId: string,
  queues: readonly ('summarize' | 'publish')[] = ['summarize', 'publish'],
): Promise<JobRow[]> {
  const rows: JobRow[] = [];
  for (const name of queues) {
    const queue = pipeline.queues[name] as Queue;
    const facts = new QueueFacts(queue);
    const prefix = `${name}-${reportId}`;
    // A job moving on between two reads (delayed → waiting → active) is listed once.
    const seen = new Set<string>();
    for (const state of UNFINISHED_STATES) {
      for (const id of await queue.getRanges([state], 0, -1)) {
        if (!id.startsWith(prefix) || seen.has(id)) continue;
        const job = await queue.getJob(id);
        if (job === undefined || stringField(job.data, 'reportId') !== reportId) continue;
        seen.add(id);
        rows.push(await rowOf(pipeline, name, state, job, facts));
      }
    }
  }
  return rows;
}

/** What one queue says about all its jobs at once, read once per listing and only when needed. */
class QueueFacts {
  private workers: Promise<ReadonlySet<string> | null> | null = null;
  private rateLimit: Promise<number> | null = null;

  constructor(readonly queue: Queue) {}

  /**
   * The names of the workers connected to this queue. BullMQ names a worker's blocking connection
   * `<prefix>:<base64 queue>:w:<worker name>` and stores that name on each job it takes
   * (`processedBy`); the pipeline gives every process's workers a name of their own. Null when
   * Redis does not list its clients (BullMQ answers with a placeholder without `rawname`, as on
   * GCP Memorystore): no worker could then be told apart from a gone one.
   */
  liveWorkers(): Promise<ReadonlySet<string> | null> {
    this.workers ??= this.queue.getWorkers().then((clients) => {
      if (clients.some((c) => c.rawname === undefined)) return null;
      return new Set(
        clients.flatMap((c) => {
          const raw = c.rawname ?? '';
          const at = raw.indexOf(':w:');
          return at < 0 ? [] : [raw.slice(at + 3)];
        }),
      );
    });
    return this.workers;
  }

  /** How long the queue is paused by the LLM's rate limit (429), in ms; 0 when it is not. */
  rateLimitMs(): Promise<number> {
    this.rateLimit ??= this.queue.getRateLimitTtl().then((ttl) => Math.max(0, ttl));
    return this.rateLimit;
  }
}

async function rowOf(
  pipeline: Pipeline,
  queue: string,
  state: ListableState,
  job: Job,
  facts: QueueFacts,
): Promise<JobRow> {
  const data: unknown = job.data;
  // A send job (notify) names its subscriber and the reports of its digest.
  const subscriberId = stringField(data, 'subscriberId');
  const reportIds = arrayField(data, 'reportIds');
  const reportId = stringField(data, 'reportId') ?? (reportIds.length === 1 ? (reportIds[0] ?? null) : null);
  let title: string;
  if (reportId !== null) {
    const stored = await pipeline.store.getReport(reportId);
    title = stored?.report.title ?? `(report ${reportId} is not in the store)`;
    if (subscriberId !== null) title = `${title} → subscriber ${subscriberId}`;
  } else if (subscriberId !== null) {
    const digest = stringField(data, 'digestId') ?? '?';
    title = `(digest ${digest}, ${reportIds.length} reports) → subscriber ${subscriberId}`;
  } else {
    const emailId = stringField(data, 'emailId');
    const origin: unknown =
      typeof data === 'object' && data !== null && 'origin' in data ? data.origin : null;
    const ref = stringField(origin, 'ref');
    title = `(email ${emailId ?? '?'}${ref === null ? '' : `, ${ref}`})`;
  }
  // Typed string, but unset on jobs that never failed.
  const reason: unknown = job.failedReason;
  const attempts = job.opts.attempts ?? 1;
  const id = job.id ?? '?';
  const waiting = state === 'waiting' || state === 'prioritized' || state === 'delayed';
  // A summary that waits for the LLM says why on its report's summarize stage (see Pipeline).
  const stage =
    waiting && queue === 'summarize' && reportId !== null
      ? waitingStageOf(await pipeline.store.getStages(reportId), id)
      : null;
  const times = state === 'delayed' || state === 'active' ? await pipeline.jobTimes(facts.queue, id) : null;
  let runAt: number | null = null;
  if (state === 'delayed') runAt = times?.dueAt ?? null;
  else if (waiting) {
    const paused = await facts.rateLimitMs();
    runAt = paused > 0 ? Date.now() + paused : null;
  }
  let holder: JobRow['holder'] = null;
  if (state === 'active') {
    const by = job.processedBy;
    const live = by === undefined || by === '' ? null : await facts.liveWorkers();
    holder = live === null || by === undefined ? 'unknown' : live.has(by) ? 'alive' : 'gone';
  }
  return {
    queue,
    id,
    state,
    reportId,
    title,
    attemptsMade: job.attemptsMade,
    attempts,
    gaveUp: state === 'failed' && job.attemptsMade < attempts,
    lastError: typeof reason === 'string' && reason !== '' ? reason : null,
    waitReason: stage?.detail ?? null,
    runAt,
    createdAt: job.timestamp,
    startedAt: job.processedOn ?? null,
    finishedAt: job.finishedOn ?? null,
    holder,
    lockTtlMs: state === 'active' ? (times?.lockTtlMs ?? null) : null,
  };
}

/** The summarize stage when it records that this very job waits, else null. */
function waitingStageOf(stages: Partial<Record<StageName, StageStatus>>, jobId: string): StageStatus | null {
  const stage = stages.summarize;
  return stage?.state === 'waiting' && stage.jobId === jobId ? stage : null;
}

function arrayField(value: unknown, field: string): string[] {
  if (typeof value !== 'object' || value === null || !(field in value)) return [];
  const v = (value as Record<string, unknown>)[field];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringField(value: unknown, field: string): string | null {
  if (typeof value !== 'object' || value === null || !(field in value)) return null;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' ? v : null;
}

/** What {@link retryJob} did: a failed job was queued again, or a delayed one was made to run now. */
export interface RetryOutcome {
  readonly queue: string;
  readonly id: string;
  readonly action: 'retried' | 'promoted';
}

/**
 * Retry one job by id, looking in the given queue or in every stage queue.
 *
 * - A failed job is queued again, its attempt counters from zero: an admin retries after fixing
 *   something, so the job deserves its full retry budget, not one last attempt.
 * - A delayed job (a summary waiting for the LLM, an attempt backing off) runs now instead of
 *   waiting out its delay: the admin retries because the cause is fixed (BullMQ `promote`).
 * - A waiting or running job is refused with what it is doing (and, for a running job whose
 *   worker is gone, when it runs again).
 *
 * @throws AdminError `JOB_NOT_FOUND` (no such id), `JOB_NOT_RETRIABLE` (waiting, running, completed)
 */
export async function retryJob(
  pipeline: Pipeline,
  id: string,
  queue?: string,
  extraQueues: readonly Queue[] = [],
): Promise<RetryOutcome> {
  for (const [name, q] of pick(adminQueues(pipeline, extraQueues), queue)) {
    const job = await q.getJob(id);
    if (job === undefined) continue;
    const state = await job.getState();
    if (state === 'failed') {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return { queue: name, id, action: 'retried' };
    }
    if (state === 'delayed' && (await promote(pipeline, job))) return { queue: name, id, action: 'promoted' };
    throw await notRetriable(pipeline, name, q, job);
  }
  throw new AdminError('JOB_NOT_FOUND', `no job with id ${id}${queue === undefined ? '' : ` in ${queue}`}`, {
    hint: 'copy an id from `isw-ko jobs list --state failed` (or the admin jobs page)',
  });
}

/**
 * Run a delayed job now. False when it left the delayed set in the meantime (its delay ran out, or
 * a worker took it): BullMQ then refuses to promote it, and the caller says what it does instead.
 */
async function promote(pipeline: Pipeline, job: Job): Promise<boolean> {
  try {
    await job.promote();
  } catch (err) {
    if ((await job.getState()) !== 'delayed') return false;
    throw err;
  }
  // The report page said when the summary would try again; it tries now.
  const reportId = stringField(job.data, 'reportId');
  if (reportId !== null && job.queueName === 'summarize') {
    const stage = (await pipeline.store.getStages(reportId)).summarize;
    if (stage?.state === 'waiting' && stage.jobId === job.id)
      await pipeline.store.setStage(reportId, 'summarize', { ...stage, retryAt: new Date().toISOString() });
  }
  return true;
}

/** Why a job that is neither failed nor delayed cannot be retried, in the words of its state. */
async function notRetriable(pipeline: Pipeline, name: string, queue: Queue, job: Job): Promise<AdminError> {
  const id = job.id ?? '?';
  const state = await job.getState();
  const where = `job ${id} in ${name}`;
  if (state === 'waiting' || state === 'prioritized' || state === 'delayed') {
    const paused = await queue.getRateLimitTtl();
    return new AdminError(
      'JOB_NOT_RETRIABLE',
      paused > 0
        ? `${where} is already waiting to run, but the ${name} queue is paused for another ${durationShort(paused)}${name === 'summarize' ? ' because the LLM server rate-limits us (429)' : ''}`
        : `${where} is already waiting to run; nothing to retry`,
      {
        hint: 'a worker takes it as soon as one is free; if none is running, start one (`isw-ko run` or `isw-ko worker`)',
      },
    );
  }
  if (state === 'active') {
    const row = await rowOf(pipeline, name, 'active', job, new QueueFacts(queue));
    const started =
      job.processedOn === undefined ? '' : ` (started ${ageShort(Date.now() - job.processedOn)} ago)`;
    if (row.holder === 'gone') {
      return new AdminError(
        'JOB_NOT_RETRIABLE',
        `${where} is marked as running${started}, but the worker that took it is gone (stopped or killed)`,
        { hint: lockHint(row.lockTtlMs) },
      );
    }
    return new AdminError('JOB_NOT_RETRIABLE', `${where} is running now${started}; nothing to retry`, {
      hint: 'wait for it to finish: `isw-ko jobs list --state active` shows it',
    });
  }
  if (state === 'completed') {
    return new AdminError('JOB_NOT_RETRIABLE', `${where} is completed; nothing to retry`, {
      hint: 'to run a report again: isw-ko reprocess <report-id> [--from summarize|publish]',
    });
  }
  return new AdminError(
    'JOB_NOT_RETRIABLE',
    `${where} is ${state}; only failed and delayed jobs can be retried`,
    {
      hint: 'list them with `isw-ko jobs list --state failed` (or --state delayed)',
    },
  );
}

/** What happens to an active job whose worker is gone, for a hint (English, the CLI's language). */
export function lockHint(lockTtlMs: number | null): string {
  return lockTtlMs === null
    ? 'its lock has lapsed: a running worker takes it up again at its next check for stalled jobs (JOB_STALLED_CHECK_MS); start one if none is running'
    : `it runs again once its lock lapses, in ${durationShort(lockTtlMs)} (JOB_LOCK_MS), when a running worker takes it up; start one if none is running`;
}

/** Retry every failed job of one stage queue (or of all of them). Returns how many were retried. */
export async function retryAllFailed(
  pipeline: Pipeline,
  queue?: string,
  extraQueues: readonly Queue[] = [],
): Promise<number> {
  let retried = 0;
  for (const [, q] of pick(adminQueues(pipeline, extraQueues), queue)) {
    // One snapshot of the failed set, then each job once. Paging "until the failed set is empty"
    // retried the same job again and again: bad input fails again within milliseconds, so a
    // retried job is back in the failed set before the next page is read (found by the soak run).
    const failed = await q.getJobs(['failed'], 0, -1);
    for (const job of failed) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      retried += 1;
    }
  }
  return retried;
}

/** A job that failed for good and may be retried in place: the first of `ids` in the failed set. */
async function failedJob(queue: Queue, ids: readonly (string | undefined)[]): Promise<Job | null> {
  for (const id of new Set(ids)) {
    if (id === undefined) continue;
    const job = await queue.getJob(id);
    if (job !== undefined && (await job.getState()) === 'failed') return job;
  }
  return null;
}

/** Whatever the notify stage offers to re-send a report's email (wired where notify runs). */
export type NotifyReprocess = (reportId: string) => Promise<string>;

/** What the boards get once a re-run is done. */
export type PostOutcome =
  /** Every board has a post of the report: it is edited. */
  | 'edit'
  /** No board has one yet: it is posted. */
  | 'post'
  /** Some boards have one: those are edited, the others get a new post. */
  | 'mixed'
  /** The report is held: nothing is posted or edited until an admin releases it. */
  | 'held';

/** What {@link reprocess} did: lines for the CLI, and facts the admin page turns into its notice. */
export interface ReprocessResult {
  /** What was done, one line each. */
  readonly lines: readonly string[];
  /**
   * `summarize` only: how its job was handled. `retried`: the failed job was queued again;
   * `added`: a new job; `promoted`: one was already waiting (delayed) and now runs at once;
   * `queued`: one was already waiting to run; `running`: one is running now. Null otherwise.
   */
  readonly job: 'retried' | 'added' | 'promoted' | 'queued' | 'running' | null;
  /** What the boards get once the work is done; null for `notify`. */
  readonly then: PostOutcome | null;
}

/**
 * Run a report again from a stage.
 *
 * - `summarize`: a new summary (the prompt or model changed), then the post is edited on every
 *   board. A summarize job of the report that failed for good is retried in place (so it leaves
 *   the failed set). One that is still waiting, delayed or running is used instead of adding a
 *   second job beside it (two would both ask the LLM and both edit the post): a delayed one runs
 *   now. Otherwise a forced job is added.
 * - `publish`: the post is rendered again from the stored summary and edited on every board, never
 *   posted a second time (the publish worker edits the post it has a record of). A held report
 *   is not posted until released: the jobs only record that they were held.
 * - `notify`: handed to the notify stage, when this build has one.
 *
 * @throws AdminError `REPORT_NOT_FOUND`, `SUMMARY_MISSING` (publish before any summary),
 *   `NOTIFY_NOT_CONFIGURED`
 */
export async function reprocess(
  pipeline: Pipeline,
  reportId: string,
  from: ReprocessStage,
  options: { readonly notify?: NotifyReprocess } = {},
): Promise<ReprocessResult> {
  await requireReport(pipeline, reportId);
  const stages = await pipeline.store.getStages(reportId);
  if (from === 'summarize') {
    const then = await postOutcome(pipeline, reportId);
    const after = `; ${THEN_LINES[then]}`;
    const job = await failedJob(pipeline.queues.summarize as Queue, [
      stages.summarize?.jobId,
      jobIds.summarize(reportId),
    ]);
    if (job !== null) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return { lines: [`summarize: retried failed job ${job.id ?? '?'}${after}`], job: 'retried', then };
    }
    const pending = await pendingSummary(pipeline, reportId);
    if (pending !== null) return { lines: [`summarize: ${pending.line}${after}`], job: pending.job, then };
    await pipeline.enqueueSummarize(reportId, true);
    return { lines: [`summarize: a new summary was queued${after}`], job: 'added', then };
  }
  if (from === 'publish') {
    if ((await pipeline.store.getSummary(reportId)) === null) {
      throw new AdminError(
        'SUMMARY_MISSING',
        `report ${reportId} has no summary yet, so there is nothing to post`,
        {
          hint: `re-run it from summarize: isw-ko reprocess ${reportId} --from summarize`,
        },
      );
    }
    const held = await pipeline.holds.get(reportId);
    const out: string[] = [];
    const queue = pipeline.queues.publish as Queue;
    const unstarted = await unstartedPublishJobs(pipeline, reportId);
    for (const target of pipeline.targetNames) {
      const recorded = stages.publish?.jobId;
      const post = await pipeline.store.getPost(reportId, target);
      const what = post === null ? 'a new post' : `edits ${post.url}`;
      // Still queued while held: the job records the hold on the publish stage, which is what makes
      // the release post it (a stage left `done` would tell the release there is nothing to do).
      const when =
        held === null
          ? ''
          : ` — but the report is held, so it is posted only when released (isw-ko unhold ${reportId})`;
      // A publish of this board that has not started yet renders the stored summary when it runs:
      // a second one would only edit the post twice (on Rhymix, each edit takes a write slot).
      const waiting = unstarted.find((j) => stringField(j.data, 'target') === target);
      if (waiting !== undefined) {
        const now = (await waiting.getState()) === 'delayed' && (await promote(pipeline, waiting));
        out.push(
          `publish to ${target}: job ${waiting.id ?? '?'} is already queued${now ? ' and runs now' : ''}; no second job added (${what})${when}`,
        );
        continue;
      }
      const job = await failedJob(queue, [jobIds.publish(reportId, target), recorded]);
      if (job !== null && stringField(job.data, 'target') === target) {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        out.push(`publish to ${target}: retried failed job ${job.id ?? '?'} (${what})${when}`);
      } else {
        await pipeline.enqueuePublish(reportId, target, true);
        out.push(`publish to ${target}: queued (${what})${when}`);
      }
    }
    return { lines: out, job: null, then: await postOutcome(pipeline, reportId) };
  }
  if (options.notify === undefined) {
    throw new AdminError('NOTIFY_NOT_CONFIGURED', 'this build has no notify stage wired to re-send emails', {
      hint: 're-run from summarize or publish; emails go out when the notify stage is configured',
    });
  }
  return { lines: [`notify: ${await options.notify(reportId)}`], job: null, then: null };
}

/** The end of a `reprocess --from summarize` line: what the boards get when the summary is made. */
const THEN_LINES: Readonly<Record<PostOutcome, string>> = {
  edit: 'the post is edited when it is ready',
  post: 'it is posted when it is ready (no post yet)',
  mixed: 'when it is ready, existing posts are edited and boards without one get a new post',
  held: 'the report is held, so nothing is posted or edited until it is released',
};

/** Whether a re-run ends in edited posts, new ones, both, or nothing (held). */
async function postOutcome(pipeline: Pipeline, reportId: string): Promise<PostOutcome> {
  if (await pipeline.holds.isHeld(reportId)) return 'held';
  const posts = await Promise.all(pipeline.targetNames.map((t) => pipeline.store.getPost(reportId, t)));
  const have = posts.filter((p) => p !== null).length;
  if (have === 0) return 'post';
  return have === posts.length ? 'edit' : 'mixed';
}

/**
 * A summarize job of the report that is not over yet, made to do what a re-run asks: a delayed one
 * runs now, and one that would reuse the stored summary is told to make a new one. Null when
 * there is none (the caller adds a job).
 */
async function pendingSummary(
  pipeline: Pipeline,
  reportId: string,
): Promise<{ job: 'promoted' | 'queued' | 'running'; line: string } | null> {
  const rows = await reportJobs(pipeline, reportId, ['summarize']);
  // The one furthest along: a running job, else one waiting to run, else a delayed one.
  const order: readonly ListableState[] = ['active', 'waiting', 'prioritized', 'delayed'];
  const row = rows.sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state))[0];
  if (row === undefined) return null;
  if (row.state === 'active') {
    const since = row.startedAt === null ? '' : ` (started ${ageShort(Date.now() - row.startedAt)} ago)`;
    const gone = row.holder === 'gone' ? `, but its worker is gone: ${lockHint(row.lockTtlMs)}` : '';
    return { job: 'running', line: `job ${row.id} is already running${since}; no second job added${gone}` };
  }
  const job = await pipeline.queues.summarize.getJob(row.id);
  if (job === undefined) return null;
  // Without `force` it would find the stored summary and reuse it: the re-run asks for a new one.
  if (job.data.force !== true && (await pipeline.store.getSummary(reportId)) !== null)
    await job.updateData({ reportId, force: true });
  const why = row.waitReason === null ? '' : ` (${oneLine(row.waitReason)})`;
  if (row.state === 'delayed' && (await promote(pipeline, job))) {
    return {
      job: 'promoted',
      line: `job ${row.id} was already waiting${why}; it runs now instead of a second job`,
    };
  }
  return { job: 'queued', line: `job ${row.id} is already queued${why}; no second job added` };
}

/** The report's publish jobs that wait to run (waiting, delayed), not the running ones. */
async function unstartedPublishJobs(pipeline: Pipeline, reportId: string): Promise<Job[]> {
  const rows = await reportJobs(pipeline, reportId, ['publish']);
  const jobs: Job[] = [];
  for (const row of rows) {
    if (row.state === 'active') continue; // it may have read the summary already: a new job renders it again
    const job = await (pipeline.queues.publish as Queue).getJob(row.id);
    if (job !== undefined) jobs.push(job);
  }
  return jobs;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

async function requireReport(pipeline: Pipeline, reportId: string): Promise<void> {
  if (!(await pipeline.store.hasReport(reportId))) {
    throw new AdminError('REPORT_NOT_FOUND', `no report with id ${reportId}`, {
      hint: 'report ids are listed on the admin reports page and in `isw-ko jobs list`',
    });
  }
}

/**
 * Hold a report: it is not posted (nor a post of it edited) until released, so its subscribers are
 * not mailed either (they are mailed on publication). The summary is still made, so the admin can
 * read the post as it would look before releasing it. A publish already running finishes.
 *
 * @returns what was done, one line
 * @throws AdminError `REPORT_NOT_FOUND`
 */
export async function holdReport(
  pipeline: Pipeline,
  reportId: string,
  options: { readonly by: string; readonly reason?: string },
): Promise<string> {
  await requireReport(pipeline, reportId);
  const held = await pipeline.holds.hold(reportId, options.by, options.reason ?? '');
  if (!held) {
    const hold = await pipeline.holds.get(reportId);
    return `already held by ${hold?.by ?? '?'} since ${hold?.at ?? '?'}; nothing changed`;
  }
  const posted = (
    await Promise.all(pipeline.targetNames.map((t) => pipeline.store.getPost(reportId, t)))
  ).filter((p) => p !== null);
  return posted.length === 0
    ? 'held: it will not be posted or mailed until released'
    : `held: already posted on ${posted.map((p) => p.target).join(', ')}; those posts stay up but are not edited until released`;
}

/**
 * Release a held report and take it up where the hold stopped it: every publish the hold skipped
 * (or that never ran) is queued again — the publish worker edits a post a board already has,
 * never makes a second — and subscribers are mailed on its first publication as usual.
 *
 * @returns what was done, one line each
 * @throws AdminError `REPORT_NOT_FOUND`, `REPORT_NOT_HELD`
 */
export async function releaseReport(pipeline: Pipeline, reportId: string): Promise<string[]> {
  await requireReport(pipeline, reportId);
  const hold = await pipeline.holds.release(reportId);
  if (hold === null) {
    throw new AdminError('REPORT_NOT_HELD', `report ${reportId} is not held`, {
      hint: 'held reports are listed by `isw-ko hold --list` and on the admin quarantine page',
    });
  }
  const out = [`released (held by ${hold.by} since ${hold.at})`];
  if ((await pipeline.store.getSummary(reportId)) === null) {
    out.push('no summary yet: it is posted when its summary is ready');
    return out;
  }
  const skipped = (await pipeline.store.getStages(reportId)).publish?.state === 'held';
  for (const target of pipeline.targetNames) {
    const post = await pipeline.store.getPost(reportId, target);
    if (post !== null && !skipped) continue;
    await pipeline.enqueuePublish(reportId, target, true);
    out.push(`publish to ${target}: queued (${post === null ? 'a new post' : `edits ${post.url}`})`);
  }
  if (out.length === 1) out.push('nothing was waiting: every board already has its post');
  return out;
}

/** A job state as BullMQ reports it, in Korean for the admin pages. */
export function stateLabel(state: JobState | 'unknown' | ListableState): string {
  const labels: Record<string, string> = {
    failed: '실패',
    waiting: '대기',
    'waiting-children': '하위 작업 대기',
    // Its own label: the state tabs list both, and two tabs called 대기 cannot be told apart.
    prioritized: '우선 대기',
    active: '처리 중',
    delayed: '지연',
    completed: '완료',
    unknown: '알 수 없음',
  };
  return labels[state] ?? state;
}
