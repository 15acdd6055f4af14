import type { JobsOptions } from 'bullmq';
import type { QueueName } from './names.js';

/**
 * Retry policy per stage. Parsing is deterministic, so it gets few attempts; the LLM and the
 * board are network services that recover, so they get more, with exponential backoff. Completed
 * jobs are kept a week (the admin pages show them), failed ones until an admin acts.
 */
export const JOB_OPTIONS: Record<QueueName, JobsOptions> = {
  ingest: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } },
  summarize: { attempts: 5, backoff: { type: 'exponential', delay: 10_000 } },
  publish: { attempts: 8, backoff: { type: 'exponential', delay: 5_000 } },
};

export const RETENTION: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: false,
};

/** Scale the backoff delays (tests run the same policy in milliseconds). */
export function jobOptions(name: QueueName, backoffScale = 1): JobsOptions {
  const base = JOB_OPTIONS[name];
  const backoff = base.backoff;
  const scaled =
    typeof backoff === 'object'
      ? { ...backoff, delay: Math.max(1, Math.round((backoff.delay ?? 1000) * backoffScale)) }
      : backoff;
  return { ...base, ...RETENTION, ...(scaled === undefined ? {} : { backoff: scaled }) };
}
