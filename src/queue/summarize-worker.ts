import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../shared/logger.js';
import type { SummaryRecord } from '../summarize/summary.js';
import type { Report } from '../parse/index.js';
import type { JobDataMap } from './names.js';
import type { Store } from './store.js';

export interface SummarizeDeps {
  readonly store: Store;
  readonly summarize: (reportId: string, report: Report) => Promise<SummaryRecord>;
  readonly targets: readonly string[];
  readonly enqueuePublish: (reportId: string, target: string) => Promise<void>;
  readonly logger: Logger;
}

/**
 * `summarize`: report → Korean summary → one `publish` job per target. A summary already stored
 * is not asked for again (unless `force`, as `isw-ko reprocess` does), so a repeat costs no tokens.
 */
export async function processSummarize(
  job: Job<JobDataMap['summarize']>,
  deps: SummarizeDeps,
): Promise<{ reportId: string; cached: boolean }> {
  const { reportId, force } = job.data;
  const log = deps.logger.child({ stage: 'summarize', jobId: job.id, reportId });
  let cached = true;
  if (force === true || (await deps.store.getSummary(reportId)) === null) {
    const stored = await deps.store.getReport(reportId);
    if (stored === null)
      throw new UnrecoverableError(`report ${reportId} is not in the store; ingest its email again`);
    const record = await deps.summarize(reportId, stored.report);
    await deps.store.putSummary(record);
    await deps.store.setStage(reportId, 'summarize', {
      state: 'done',
      at: record.createdAt,
      detail: record.model,
    });
    log.info(
      { model: record.model, tokens: record.usage.totalTokens, repairs: record.repairs },
      'summary stored',
    );
    cached = false;
  }
  for (const target of deps.targets) await deps.enqueuePublish(reportId, target);
  return { reportId, cached };
}
