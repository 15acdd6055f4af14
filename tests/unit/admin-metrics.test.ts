// Covers the Prometheus metrics: job counters and durations from pipeline events, the counters other parts increment, the queue gauge read at scrape time (and skipped when Redis hangs).
import { expect, it } from 'vitest';
import { Metrics } from '../../src/admin/metrics.js';

it('counts finished jobs per queue and outcome, with their durations', async () => {
  const m = new Metrics({ defaultMetrics: false });
  m.observeJob({ queue: 'summarize', jobId: 'a', outcome: 'completed', final: true, durationMs: 1500 });
  m.observeJob({ queue: 'summarize', jobId: 'b', outcome: 'failed', final: false, durationMs: 200 });
  m.observeJob({ queue: 'summarize', jobId: 'b', outcome: 'failed', final: true, durationMs: null });
  m.llmTokens.inc(1234);
  m.llmErrors.inc({ code: 'LLM_UNAVAILABLE' });
  m.emailsSent.inc(3);
  m.imapReconnects.inc();
  m.observeQueues(() => Promise.resolve({ publish: { failed: 2, completed: 7 } }));
  const { contentType, body } = await m.expose();
  expect(contentType).toContain('text/plain');
  expect(body).toContain('isw_ko_jobs_completed_total{queue="summarize"} 1');
  expect(body).toContain('isw_ko_jobs_failed_total{queue="summarize",final="false"} 1');
  expect(body).toContain('isw_ko_jobs_failed_total{queue="summarize",final="true"} 1');
  expect(body).toContain(
    'isw_ko_job_duration_seconds_bucket{le="2.5",queue="summarize",outcome="completed"} 1',
  );
  expect(body).toContain('isw_ko_job_duration_seconds_count{queue="summarize",outcome="failed"} 1');
  expect(body).toContain('isw_ko_llm_tokens_total 1234');
  expect(body).toContain('isw_ko_llm_errors_total{code="LLM_UNAVAILABLE"} 1');
  expect(body).toContain('isw_ko_emails_sent_total 3');
  expect(body).toContain('isw_ko_imap_reconnects_total 1');
  expect(body).toContain('isw_ko_queue_jobs{queue="publish",state="failed"} 2');
  expect(body).not.toContain('process_cpu');
});

it('keeps each instance in its own registry, with process metrics by default', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.llmTokens.inc(5);
  expect((await b.expose()).body).toContain('isw_ko_llm_tokens_total 0');
  expect((await a.expose()).body).toContain('isw_ko_process_cpu_seconds_total');
});

it('answers a scrape without the queue gauge when Redis does not answer', async () => {
  const m = new Metrics({ defaultMetrics: false });
  m.observeQueues(() => new Promise(() => undefined));
  const started = Date.now();
  const { body } = await m.expose();
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(body).not.toMatch(/^isw_ko_queue_jobs\{/m);
}, 10_000);
