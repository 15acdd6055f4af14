import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobFinishedEvent } from '../queue/pipeline.js';
import { withTimeout } from '../shared/timeout.js';

/** Prefix of every metric name, so isw-ko's series are easy to find beside other services'. */
export const METRIC_PREFIX = 'isw_ko_';

/** Job counts per queue and state, as `Pipeline.counts()` returns them. */
export type QueueCountsSource = () => Promise<Readonly<Record<string, Readonly<Record<string, number>>>>>;

// Jobs run from milliseconds (ingest) to minutes (a slow local LLM): buckets span both.
const DURATION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
// A scrape must answer even when Redis does not: the queue gauge is skipped after this long.
const QUEUE_COUNTS_TIMEOUT_MS = 2_000;

/**
 * The Prometheus metrics of one process, in a registry of its own (so two apps in one test process
 * never share series). Other parts increment the counters they own: `llmTokens` and `llmErrors`
 * (summarize), `emailsSent` (notify), `imapReconnects` (inbox); job counts and durations come from
 * the pipeline's workers through {@link Metrics.observeJob}.
 */
export class Metrics {
  readonly registry: Registry;
  /** Tokens the LLM reported as used (prompt + completion). */
  readonly llmTokens: Counter;
  /** Failed LLM calls, by error code (`LLM_UNAVAILABLE`, `LLM_INVALID_ANSWER`, …). */
  readonly llmErrors: Counter<'code'>;
  /** Emails handed to SMTP (or the outbox) successfully. */
  readonly emailsSent: Counter;
  /** IMAP reconnects after a dropped or refused connection. */
  readonly imapReconnects: Counter;
  private readonly jobsCompleted: Counter<'queue'>;
  private readonly jobsFailed: Counter<'queue' | 'final'>;
  private readonly jobDuration: Histogram<'queue' | 'outcome'>;
  private queueCounts: QueueCountsSource | null = null;

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.llmTokens = new Counter({
      name: `${METRIC_PREFIX}llm_tokens_total`,
      help: 'LLM tokens used (prompt and completion), as the server reported them.',
      registers,
    });
    this.llmErrors = new Counter({
      name: `${METRIC_PREFIX}llm_errors_total`,
      help: 'Failed LLM calls, by isw-ko error code.',
      labelNames: ['code'],
      registers,
    });
    this.emailsSent = new Counter({
      name: `${METRIC_PREFIX}emails_sent_total`,
      help: 'Emails accepted by the SMTP server (or written to the outbox).',
      registers,
    });
    this.imapReconnects = new Counter({
      name: `${METRIC_PREFIX}imap_reconnects_total`,
      help: 'IMAP reconnects after a dropped or refused connection.',
      registers,
    });
    this.jobsCompleted = new Counter({
      name: `${METRIC_PREFIX}jobs_completed_total`,
      help: 'Jobs completed by the workers of this process, per queue.',
      labelNames: ['queue'],
      registers,
    });
    this.jobsFailed = new Counter({
      name: `${METRIC_PREFIX}jobs_failed_total`,
      help: 'Failed job attempts of this process, per queue; final="true": no retry left (needs an admin).',
      labelNames: ['queue', 'final'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: `${METRIC_PREFIX}job_duration_seconds`,
      help: 'How long one job attempt ran, per queue and outcome.',
      labelNames: ['queue', 'outcome'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    const source = (): QueueCountsSource | null => this.queueCounts;
    new Gauge({
      name: `${METRIC_PREFIX}queue_jobs`,
      help: 'Jobs per queue and state, across every process sharing the Redis (read at scrape time).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const read = source();
        if (read === null) return;
        this.reset();
        const counts = await withTimeout(read(), QUEUE_COUNTS_TIMEOUT_MS);
        // Redis did not answer in time: leave the gauge empty rather than hang the scrape.
        if (counts === null) return;
        for (const [queue, byState] of Object.entries(counts)) {
          for (const [state, n] of Object.entries(byState)) this.set({ queue, state }, n);
        }
      },
    });
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  /** Count a finished job attempt (the pipeline's `onJobFinished`). */
  observeJob(event: JobFinishedEvent): void {
    if (event.outcome === 'completed') this.jobsCompleted.inc({ queue: event.queue });
    else this.jobsFailed.inc({ queue: event.queue, final: String(event.final) });
    if (event.durationMs !== null)
      this.jobDuration.observe({ queue: event.queue, outcome: event.outcome }, event.durationMs / 1000);
  }

  /** Where the queue gauge reads its counts at scrape time (`() => pipeline.counts()`). */
  observeQueues(source: QueueCountsSource): void {
    this.queueCounts = source;
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async expose(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
