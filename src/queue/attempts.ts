import type { Job } from 'bullmq';

/**
 * BullMQ's final-attempt arithmetic, written once: `attemptsMade` counts finished attempts, so
 * the one running now is the last when attemptsMade + 1 reaches the configured attempts.
 */
export function isFinalAttempt(job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
