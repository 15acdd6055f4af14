// Bench section: the pipeline's own overhead (test LLM answering at once), drop-to-post latency,
// worker memory, and a bare BullMQ round trip on the same Redis as the baseline.
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { parseEmail } from '../src/parse/index.js';
import { redisOptions } from '../src/queue/connection.js';
import { fixtureNames, readFixture } from '../tests/support/fixtures.js';
import { startHarness, waitFor } from '../tests/support/pipeline.js';
import type { BenchSectionResult } from './parse.js';
import { formatNumber, formatTable } from './table.js';

const THROUGHPUT_EMAILS = 200;
const LATENCY_DROPS = 40;
const ROUND_TRIPS = 500;

/** A copy of a fixture that is a different email: its own Message-ID and subject (so its own report). */
function variant(raw: Buffer, n: number): Buffer {
  const text = raw.toString('latin1');
  return Buffer.from(
    text
      .replace(/^Message-ID: <([^>]+)>/im, `Message-ID: <bench-${n}-$1>`)
      .replace(/^Subject: (.*)$/im, `Subject: $1 (bench ${n})`),
    'latin1',
  );
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

/** Peak RSS of this process while `fn` runs, sampled every 20 ms. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const value = await fn();
    return { value, peakMb: Math.max(peak, process.memoryUsage.rss()) / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

export async function runPipelineBench(): Promise<BenchSectionResult> {
  const sources = fixtureNames().map((name) => readFixture(name));
  const emails = Array.from({ length: THROUGHPUT_EMAILS }, (_, i) =>
    variant(sources[i % sources.length] ?? Buffer.alloc(0), i),
  );

  // Parse only, the same emails, same process: the reference the pipeline is held to.
  for (const raw of emails.slice(0, 20)) await parseEmail(raw); // warm-up
  const parseStart = performance.now();
  for (const raw of emails) await parseEmail(raw);
  const parsePerSec = emails.length / ((performance.now() - parseStart) / 1000);

  const h = await startHarness({ LOG_LEVEL: 'warn', LLM_CONCURRENCY: '4', INBOX_POLL_MS: '1000' });
  try {
    // Baseline: a bare BullMQ job round trip (add → processed → completed event) on the same Redis.
    const baseline = await bullmqRoundTrip(h.redis.url);

    const app = await h.start({ inbox: true });
    // Warm-up: a few reports through every stage.
    for (let i = 0; i < 8; i += 1)
      await app.pipeline.enqueueEmail(variant(sources[i % sources.length] ?? Buffer.alloc(0), 10_000 + i), {
        kind: 'cli',
        ref: 'warm',
      });
    await waitFor('warm-up posts', () => h.postCount() >= 8, 60_000);

    // Throughput: every email queued at once, until the last post is written.
    const before = h.postCount();
    const { value: pipelineSeconds, peakMb } = await withPeakRss(async () => {
      const t0 = performance.now();
      await Promise.all(
        emails.map((raw, i) => app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: `bench-${i}` })),
      );
      await waitFor('all posts', () => h.postCount() >= before + emails.length, 300_000);
      return (performance.now() - t0) / 1000;
    });
    const pipelinePerSec = emails.length / pipelineSeconds;

    // Latency: one email at a time dropped into the inbox folder the way the README asks (saved
    // aside, then moved in), until its post file exists. The clock starts at the move.
    const staging = path.join(h.dir, 'staging');
    await mkdir(staging, { recursive: true });
    const postsDir = path.join(h.env.DATA_DIR, 'board', 'posts');
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_DROPS; i += 1) {
      const file = path.join(staging, `drop-${i}.eml`);
      await writeFile(file, variant(sources[i % sources.length] ?? Buffer.alloc(0), 20_000 + i));
      await new Promise((r) => setTimeout(r, 100)); // the save has long finished when the move happens
      const count = (await readdir(postsDir)).length;
      const t0 = performance.now();
      await rename(file, path.join(h.env.INBOX_DIR, `drop-${i}.eml`));
      await waitFor('the dropped email’s post', async () => (await readdir(postsDir)).length > count, 30_000);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);

    const ratio = pipelinePerSec / parsePerSec;
    const median = percentile(latencies, 50);
    const pass = ratio >= 0.75 && median <= 100;
    const table = formatTable(
      [{ title: 'measure' }, { title: 'value', align: 'right' }, { title: 'goal' }],
      [
        ['parse only (parseEmail), emails/s', formatNumber(parsePerSec, 1), 'reference'],
        [
          `pipeline ingest→summarize→publish, reports/s (${THROUGHPUT_EMAILS} emails)`,
          formatNumber(pipelinePerSec, 1),
          '',
        ],
        ['pipeline / parse-only', `${formatNumber(ratio, 2)}×`, `≥ 0.75× ${ratio >= 0.75 ? 'PASS' : 'FAIL'}`],
        [
          `drop → post median (${LATENCY_DROPS} drops)`,
          `${formatNumber(median, 1)} ms`,
          `≤ 100 ms ${median <= 100 ? 'PASS' : 'FAIL'}`,
        ],
        ['drop → post p95', `${formatNumber(percentile(latencies, 95), 1)} ms`, ''],
        ['peak RSS, bot + test LLM in one process', `${formatNumber(peakMb, 0)} MB`, ''],
        [
          `baseline: bare BullMQ job round trip median (${ROUND_TRIPS})`,
          `${formatNumber(baseline.medianMs, 2)} ms`,
          'baseline',
        ],
        ['baseline: bare BullMQ jobs/s (sequential)', formatNumber(baseline.perSec, 1), 'baseline'],
      ],
    );
    return {
      title:
        'pipeline: own overhead with the test LLM answering at once, vs parse only and a bare BullMQ round trip',
      table,
      pass,
      summary:
        `The test LLM server runs in the same process and answers in a few ms; the file board rewrites index.html on every post. ` +
        `A report is three jobs (ingest, summarize, publish), so its floor is about 3× the bare round trip.`,
    };
  } finally {
    await h.close();
  }
}

async function bullmqRoundTrip(url: string): Promise<{ medianMs: number; perSec: number }> {
  const name = `bench-rt-${Date.now()}`;
  const connection = redisOptions({ url }, 'bench');
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const worker = new Worker(name, () => Promise.resolve('ok'), { connection, concurrency: 1 });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i += 1) {
    const start = performance.now();
    const job = await queue.add('rt', { i });
    await job.waitUntilFinished(events, 10_000);
    times.push(performance.now() - start);
  }
  const perSec = ROUND_TRIPS / ((performance.now() - t0) / 1000);
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 50), perSec };
}
