import type { Job, JobState, Queue } from 'bullmq';
import { jobIds, QUEUE_NAMES } from '../queue/names.js';
import type { Pipeline } from '../queue/pipeline.js';
import { AdminError } from './admin-error.js';

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
  /** The last error (BullMQ's `failedReason`), or null. */
  readonly lastError: string | null;
  /** When the job was added (ms since the epoch). */
  readonly createdAt: number;
  readonly finishedAt: number | null;
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
    out[queue.name] = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'completed',
      'failed',
      'prioritized',
    );
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
    for (const job of jobs) rows.push(await rowOf(pipeline, name, options.state, job));
  }
  return rows.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
}

async function rowOf(pipeline: Pipeline, queue: string, state: ListableState, job: Job): Promise<JobRow> {
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
  return {
    queue,
    id: job.id ?? '?',
    state,
    reportId,
    title,
    attemptsMade: job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    lastError: typeof reason === 'string' && reason !== '' ? reason : null,
    createdAt: job.timestamp,
    finishedAt: job.finishedOn ?? null,
  };
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

/**
 * Retry one failed job by id, looking in the given queue or in every stage queue. Its attempt
 * counters start again from zero: an admin retries after fixing something, so the job deserves
 * its full retry budget, not one last attempt.
 *
 * @throws AdminError `JOB_NOT_FOUND` (no such id), `JOB_NOT_FAILED` (it is not in the failed set)
 */
export async function retryJob(
  pipeline: Pipeline,
  id: string,
  queue?: string,
  extraQueues: readonly Queue[] = [],
): Promise<{ readonly queue: string; readonly id: string }> {
  for (const [name, q] of pick(adminQueues(pipeline, extraQueues), queue)) {
    const job = await q.getJob(id);
    if (job === undefined) continue;
    const state = await job.getState();
    if (state !== 'failed') {
      throw new AdminError('JOB_NOT_FAILED', `job ${id} in ${name} is ${state}, not failed`, {
        hint: 'only failed jobs can be retried; list them with `isw-ko jobs list --state failed`',
      });
    }
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return { queue: name, id };
  }
  throw new AdminError('JOB_NOT_FOUND', `no job with id ${id}${queue === undefined ? '' : ` in ${queue}`}`, {
    hint: 'copy an id from `isw-ko jobs list --state failed` (or the admin jobs page)',
  });
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

/**
 * Run a report again from a stage; what was done, one line each.
 *
 * - `summarize`: a new summary (the prompt or model changed), then the post is edited on every
 *   board. A summarize job of the report that failed for good is retried in place (so it leaves
 *   the failed set); otherwise a forced job is added.
 * - `publish`: the post is rendered again from the stored summary and edited on every board, never
 *   posted a second time (the publish worker edits the post it has a record of).
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
): Promise<string[]> {
  await requireReport(pipeline, reportId);
  const stages = await pipeline.store.getStages(reportId);
  if (from === 'summarize') {
    const job = await failedJob(pipeline.queues.summarize as Queue, [
      stages.summarize?.jobId,
      jobIds.summarize(reportId),
    ]);
    if (job !== null) {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return [`summarize: retried failed job ${job.id ?? '?'}`];
    }
    await pipeline.enqueueSummarize(reportId, true);
    return ['summarize: a new summary was queued; the post is edited when it is ready'];
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
    const out: string[] = [];
    const queue = pipeline.queues.publish as Queue;
    for (const target of pipeline.targetNames) {
      const recorded = stages.publish?.jobId;
      const job = await failedJob(queue, [jobIds.publish(reportId, target), recorded]);
      if (job !== null && stringField(job.data, 'target') === target) {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        out.push(`publish to ${target}: retried failed job ${job.id ?? '?'}`);
      } else {
        await pipeline.enqueuePublish(reportId, target, true);
        const post = await pipeline.store.getPost(reportId, target);
        out.push(`publish to ${target}: queued (${post === null ? 'a new post' : `edits ${post.url}`})`);
      }
    }
    return out;
  }
  if (options.notify === undefined) {
    throw new AdminError('NOTIFY_NOT_CONFIGURED', 'this build has no notify stage wired to re-send emails', {
      hint: 're-run from summarize or publish; emails go out when the notify stage is configured',
    });
  }
  return [`notify: ${await options.notify(reportId)}`];
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
    'waiting-children': '대기',
    prioritized: '대기',
    active: '처리 중',
    delayed: '지연',
    completed: '완료',
    unknown: '알 수 없음',
  };
  return labels[state] ?? state;
}
