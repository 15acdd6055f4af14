import { UnrecoverableError, type Job } from 'bullmq';
import type { Report } from '../parse/index.js';
import { AppError } from '../shared/app-error.js';
import type { Logger } from '../shared/logger.js';
import type { SummaryRecord } from '../summarize/summary.js';
import type { JobDataMap } from './names.js';
import type { Holds, ReportHold } from './holds.js';
import type { PostRecord, Store } from './store.js';

/** One place posts go (the file board, a Rhymix board, a webhook): creates or edits its post. */
export interface PublishTarget {
  readonly name: string;
  publish(input: {
    readonly reportId: string;
    readonly report: Report;
    readonly summary: SummaryRecord;
    /** What this target published for the report before, if anything: edit it, never post again. */
    readonly existing: PostRecord | null;
  }): Promise<Omit<PostRecord, 'updatedAt' | 'revisions'>>;
}

export interface PublishDeps {
  readonly store: Store;
  /** Reports an admin held: their publish jobs post nothing until the hold is released. */
  readonly holds: Holds;
  /**
   * Told once every board has the report's post, after each publish that completes the set
   * (idempotent: notify mails a report's first publication only). Not after the first board: the
   * file board is done in milliseconds while Rhymix waits for its write slot or is down, and the
   * digest links the public board's post. A board that fails for good releases the mail too (see
   * the publish worker's failure handler in pipeline.ts).
   */
  readonly onPublished?: (reportId: string) => Promise<void>;
  readonly targets: ReadonlyMap<string, PublishTarget>;
  readonly logger: Logger;
}

/** What a publish job of a held report returns instead of a post. */
export interface HeldResult {
  readonly held: ReportHold;
}

/**
 * `publish`: summary → post on one target, recorded so a repeat edits instead of duplicating. A
 * report an admin held is not posted (nor edited): the job completes, the report's publish stage
 * says `held`, and releasing the hold queues the post again.
 */
export async function processPublish(
  job: Job<JobDataMap['publish']>,
  deps: PublishDeps,
): Promise<PostRecord | HeldResult> {
  const { reportId, target } = job.data;
  const log = deps.logger.child({ stage: 'publish', jobId: job.id, reportId, target });
  const adapter = deps.targets.get(target);
  if (adapter === undefined)
    throw new UnrecoverableError(`no publish target named "${target}" is configured`);
  const hold = await deps.holds.get(reportId);
  if (hold !== null) {
    await deps.store.setStage(reportId, 'publish', {
      state: 'held',
      at: new Date().toISOString(),
      detail: `held by ${hold.by}${hold.reason === '' ? '' : `: ${hold.reason}`}`,
    });
    log.info({ by: hold.by }, 'report is held by an admin: not posted until released');
    return { held: hold };
  }
  // Two publish jobs of one report and target (a re-post clicked while the first still runs) must
  // not both find "no post yet" and both create one: the second waits for its retry.
  const release = await deps.store.lock(`publish-${reportId}-${target}`, 10 * 60_000);
  if (release === null) {
    throw new AppError(
      'PUBLISH_BUSY',
      'operational',
      `report ${reportId} is being published to ${target} by another job`,
      {
        hint: 'nothing to do: this job is retried once the other one is done',
      },
    );
  }
  try {
    return await publishLocked(job, deps, log, adapter);
  } finally {
    await release();
  }
}

async function publishLocked(
  job: Job<JobDataMap['publish']>,
  deps: PublishDeps,
  log: Logger,
  adapter: PublishTarget,
): Promise<PostRecord> {
  const { reportId, target } = job.data;
  const [stored, summary, existing] = await Promise.all([
    deps.store.getReport(reportId),
    deps.store.getSummary(reportId),
    deps.store.getPost(reportId, target),
  ]);
  if (stored === null || summary === null) {
    throw new UnrecoverableError(
      `report ${reportId} has no ${stored === null ? 'report' : 'summary'} yet; re-run it from summarize`,
    );
  }
  const result = await adapter.publish({ reportId, report: stored.report, summary, existing });
  const now = new Date().toISOString();
  const record: PostRecord = { ...result, updatedAt: now, revisions: (existing?.revisions ?? 0) + 1 };
  await deps.store.putPost(record);
  // Done when every board has it: until then the report page says which boards it waits for.
  const missing = await deps.store.targetsWithoutPost(reportId, [...deps.targets.keys()]);
  await deps.store.setStage(
    reportId,
    'publish',
    missing.length === 0
      ? { state: 'done', at: now, detail: `${target}: ${record.url}` }
      : { state: 'waiting', at: now, detail: `${target}: ${record.url}; waiting for ${missing.join(', ')}` },
  );
  log.info(
    { url: record.url, edited: existing !== null },
    existing === null ? 'post published' : 'post updated',
  );
  // After the record: a failure here retries the job, which edits the post (no second one) and tells again.
  if (missing.length === 0) await deps.onPublished?.(reportId);
  else
    log.info(
      { waitingFor: missing },
      'post recorded; subscribers are mailed once the other boards have it too',
    );
  return record;
}
