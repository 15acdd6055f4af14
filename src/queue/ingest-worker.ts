import { UnrecoverableError, type Job } from 'bullmq';
import { ParseError, type Report } from '../parse/index.js';
import type { Logger } from '../shared/logger.js';
import { reportIdOf, type JobDataMap } from './names.js';
import type { Store } from './store.js';

export interface IngestDeps {
  readonly store: Store;
  readonly parse: (raw: Buffer) => Promise<Report>;
  readonly enqueueSummarize: (reportId: string) => Promise<void>;
  readonly logger: Logger;
}

export interface IngestResult {
  readonly reportId: string;
  /** Set when the same content had already arrived under another Message-ID (a forwarded copy). */
  readonly duplicateOf: string | null;
}

/** `ingest`: raw email → stored report → a `summarize` job. Repeating it changes nothing. */
export async function processIngest(job: Job<JobDataMap['ingest']>, deps: IngestDeps): Promise<IngestResult> {
  const { emailId, origin } = job.data;
  const log = deps.logger.child({ stage: 'ingest', jobId: job.id, emailId });
  const raw = await deps.store.getEmailRaw(emailId);
  if (raw === null)
    throw new UnrecoverableError(`the raw email ${emailId} is not in the store; ingest it again`);

  let report: Report;
  try {
    report = await deps.parse(raw);
  } catch (err) {
    if (err instanceof ParseError) {
      await deps.store.reject({
        emailId,
        origin,
        code: err.code,
        reason: err.describe(),
        at: new Date().toISOString(),
      });
      log.warn({ code: err.code, origin }, `email rejected: ${err.describe()}`);
      throw new UnrecoverableError(`${err.code}: ${err.describe()}`);
    }
    throw err;
  }

  const ownId = reportIdOf(report);
  const reportId = await deps.store.claimFingerprint(report.fingerprint, ownId);
  const duplicateOf = reportId === ownId ? null : reportId;
  if (!(await deps.store.hasReport(reportId))) {
    await deps.store.putReport(reportId, emailId, report);
  }
  await deps.store.setStage(reportId, 'ingest', {
    state: 'done',
    at: new Date().toISOString(),
    detail: report.title,
  });
  await deps.enqueueSummarize(reportId);
  log.info({ reportId, duplicateOf, source: report.source, title: report.title }, 'report parsed');
  return { reportId, duplicateOf };
}
