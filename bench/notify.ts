// Digest fan-out benchmark: emails per second from the notify workers (fan-out + one BullMQ send job
// per subscriber, rate limiting off) to a loopback SMTP server, and the worker's peak memory, for
// growing subscriber counts; beside it, raw nodemailer sending the same message in a loop over the
// same pooled connections (the baseline). Senders run in child processes, the SMTP server here.
// The baseline keeps its pool saturated (4 messages in flight per connection, like the workers)
// and lets nodemailer encode the body for every message, as plain use does; the workers encode a
// digest's body once and only each subscriber's unsubscribe line per copy (src/notify/encoded-body.ts),
// which is why they can beat it despite the queue's overhead.
//
// Run alone: `npx tsx bench/notify.ts` (NOTIFY_BENCH_COUNTS=1000,10000 to choose the sizes).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { subscriberIdOf } from '../src/notify/address.js';
import { composeDigestMail } from '../src/notify/deliver.js';
import { createLinks } from '../src/notify/links.js';
import { toMessageOptions } from '../src/notify/mailer.js';
import { renderDigest } from '../src/notify/render-digest.js';
import { loadNotifyTemplates } from '../src/notify/templates.js';
import { startNotifyWorkers, storeDigestSource } from '../src/queue/notify-worker.js';
import { Store } from '../src/queue/store.js';
import { startRedisServer } from '../src/shared/redis-server.js';
import {
  fixtureEntry,
  fixtureReport,
  quietLogger,
  seedPublishedReport,
  TEST_SECRET,
  testSettings,
} from '../tests/support/notify-fixtures.js';
import { startTestSmtpServer, type TestSmtpServer } from '../tests/support/smtp-server.js';
import type { BenchSectionResult } from './parse.js';
import { formatNumber, formatTable } from './table.js';

/** The goals: at least 0.8× the baseline's rate; 10,000 subscribers within 200 MB RSS. */
export const MIN_RATE_RATIO = 0.8;
export const MAX_RSS_BYTES = 200 * 1024 * 1024;
/** "Flat": the largest run's peak may exceed the smallest's by this factor at most. */
export const MAX_RSS_GROWTH = 1.5;

/**
 * V8 heap flags recommended for a process that runs the send workers, and used for both senders
 * here. Sending allocates fast (MIME nodes, stream chunks) but keeps little: ~40 MB live. With its
 * defaults V8 lets the heap grow far past that before collecting (raw nodemailer alone peaks near
 * 300 MB RSS); a 128 MB old space makes it collect instead, at no cost in speed. The bench also
 * reports one run with V8's defaults, for comparison. (Not for an all-in-one process that also
 * parses emails of up to PARSE_MAX_MESSAGE_BYTES: give that one more.)
 */
export const SENDER_V8_FLAGS: readonly string[] = ['--max-old-space-size=128', '--max-semi-space-size=8'];

export interface NotifyBenchOptions {
  /** Subscriber counts of the fan-out runs; the largest is also the baseline's message count. */
  readonly counts: readonly number[];
  /** SMTP connections per sender (MAIL_POOL_SIZE), the same for the baseline. */
  readonly poolSize: number;
  /** Also run the largest count with V8's default heap sizing (reported, not judged). */
  readonly withDefaultHeap: boolean;
  /**
   * Rounds of baseline and largest fan-out, alternating which goes first, so that a change in the
   * machine's load (a shared CI runner) hits both sides; rates are totals over the rounds.
   */
  readonly rounds: number;
}

export const DEFAULT_NOTIFY_BENCH_OPTIONS: NotifyBenchOptions = {
  counts: [1000, 10_000],
  poolSize: 5,
  withDefaultHeap: true,
  rounds: 2,
};

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WORKER_CHILD = fileURLToPath(new URL('../tests/support/notify-worker-child.ts', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

interface Run {
  readonly label: string;
  readonly messages: number;
  readonly ms: number;
  readonly maxRssBytes: number;
  /** Part of the verdict (runs with the recommended flags), or shown for comparison. */
  readonly judged: boolean;
}

interface ChildMessage {
  readonly type?: string;
  readonly maxRssBytes?: number;
  readonly ms?: number;
}

function spawnChild(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  v8Flags: readonly string[],
): ChildProcess {
  return fork(script, [...args], {
    cwd: ROOT,
    // NOTIFY_BENCH_NODE_OPTIONS adds flags to the children (e.g. --cpu-prof to profile a sender).
    execArgv: [
      '--import',
      'tsx',
      ...v8Flags,
      ...(process.env.NOTIFY_BENCH_NODE_OPTIONS ?? '').split(' ').filter((a) => a !== ''),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
}

function nextMessage(child: ChildProcess, type: string): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ChildMessage): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`the bench child exited (${String(code)}) before sending "${type}"`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
}

/** The baseline: one process, nodemailer's pool, the same message sent `count` times. */
async function runBaseline(smtp: TestSmtpServer, count: number, poolSize: number): Promise<Run> {
  const child = spawnChild(
    THIS_FILE,
    ['baseline'],
    {
      NOTIFY_BENCH_SMTP_URL: smtp.url,
      NOTIFY_BENCH_COUNT: String(count),
      NOTIFY_BENCH_POOL: String(poolSize),
    },
    SENDER_V8_FLAGS,
  );
  const result = await nextMessage(child, 'done');
  await exited(child);
  return {
    label: 'raw nodemailer (baseline)',
    messages: count,
    ms: result.ms ?? NaN,
    maxRssBytes: result.maxRssBytes ?? NaN,
    judged: true,
  };
}

/** The notify workers in a child process, fanning one report out to `count` immediate subscribers. */
async function runFanOut(
  redisUrl: string,
  smtp: TestSmtpServer,
  count: number,
  poolSize: number,
  v8Flags: readonly string[],
): Promise<Run> {
  const prefix = `bench-${count}-${Date.now().toString(36)}`;
  const redis = new Redis(redisUrl);
  const store = new Store(redis, prefix);
  const control = await startNotifyWorkers({
    redis: { url: redisUrl },
    prefix,
    logger: quietLogger(),
    settings: testSettings({ smtpUrl: smtp.url }),
    source: storeDigestSource(store, ['file']),
    workers: { fanOut: false, send: false },
  });
  const child = spawnChild(
    WORKER_CHILD,
    [],
    {
      NOTIFY_CHILD_REDIS_URL: redisUrl,
      NOTIFY_CHILD_PREFIX: prefix,
      NOTIFY_CHILD_SMTP_URL: smtp.url,
      NOTIFY_CHILD_POOL: String(poolSize),
      NOTIFY_CHILD_CONCURRENCY: String(poolSize * 4),
      NOTIFY_CHILD_RATE: '0',
      NOTIFY_CHILD_LOCK_MS: '120000',
      NOTIFY_CHILD_STALLED_MS: '30000',
      NOTIFY_CHILD_PAGE: '500',
    },
    v8Flags,
  );
  try {
    await nextMessage(child, 'ready');
    const csv = [
      'address,mode',
      ...Array.from({ length: count }, (_, i) => `bench${i}@example.org,immediate`),
    ].join('\n');
    const imported = await control.subscribers.importCsv(Buffer.from(csv));
    if (imported.added !== count)
      throw new Error(`only ${imported.added} of ${count} subscribers were imported`);
    const report = fixtureReport('isw-roca-2025-03-02');
    await seedPublishedReport(store, report);
    const before = smtp.accepted;
    // Measured from the report's publication to the last message accepted: fan-out included.
    const started = performance.now();
    await control.onReportPublished(report.reportId);
    await smtp.waitForAccepted(before + count, 600_000);
    const ms = performance.now() - started;
    const rssReply = nextMessage(child, 'rss');
    child.send({ type: 'rss' });
    const rss = await rssReply;
    const heap = v8Flags.length === 0 ? ', V8 default heap' : '';
    return {
      label: `notify fan-out, ${formatNumber(count, 0)} subscribers${heap}`,
      messages: count,
      ms,
      maxRssBytes: rss.maxRssBytes ?? NaN,
      judged: v8Flags.length > 0,
    };
  } finally {
    child.send({ type: 'close' });
    await exited(child);
    await control.close();
    await redis.quit();
  }
}

const mb = (bytes: number): string => formatNumber(bytes / (1024 * 1024), 1);

/**
 * Run the baseline and the fan-out at each subscriber count (the largest in `rounds` rounds
 * interleaved with the baseline); return the table (emails/s, peak RSS of the sending process) and
 * whether the goals hold: the largest fan-out at ≥ 0.8× the baseline's rate, within 200 MB, and its
 * peak within {@link MAX_RSS_GROWTH}× the smallest run's.
 */
export async function runNotifyBench(
  options: NotifyBenchOptions = DEFAULT_NOTIFY_BENCH_OPTIONS,
): Promise<BenchSectionResult> {
  const counts = [...options.counts].sort((a, b) => a - b);
  const largest = counts[counts.length - 1] ?? 10_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-bench-redis-'));
  const redisServer = await startRedisServer({
    bin: process.env.REDIS_SERVER_BIN ?? 'redis-server',
    dir,
    port: 0,
  });
  const smtp = await startTestSmtpServer({ keepMessages: false });
  const baselines: Run[] = [];
  const largestRuns: Run[] = [];
  const others: Run[] = [];
  try {
    if (redisServer.url === null) throw new Error('the bench redis-server has no TCP url');
    const url = redisServer.url;
    // Warm-up (connections, JIT, the child's module loading) outside the measured runs.
    await runBaseline(smtp, 200, options.poolSize);
    for (let round = 0; round < Math.max(1, options.rounds); round += 1) {
      const baseline = (): Promise<void> =>
        runBaseline(smtp, largest, options.poolSize).then((r) => {
          baselines.push(r);
        });
      const fanOut = (): Promise<void> =>
        runFanOut(url, smtp, largest, options.poolSize, SENDER_V8_FLAGS).then((r) => {
          largestRuns.push(r);
        });
      if (round % 2 === 0) {
        await baseline();
        await fanOut();
      } else {
        await fanOut();
        await baseline();
      }
    }
    for (const count of counts.slice(0, -1)) {
      others.push(await runFanOut(url, smtp, count, options.poolSize, SENDER_V8_FLAGS));
    }
    if (options.withDefaultHeap) others.push(await runFanOut(url, smtp, largest, options.poolSize, []));
  } finally {
    await smtp.close();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const combine = (label: string, list: readonly Run[]): Run => ({
    label: list.length > 1 ? `${label} (${list.length} rounds)` : label,
    messages: list.reduce((n, r) => n + r.messages, 0),
    ms: list.reduce((n, r) => n + r.ms, 0),
    maxRssBytes: Math.max(...list.map((r) => r.maxRssBytes)),
    judged: true,
  });
  const firstLargest = largestRuns[0];
  const firstBaseline = baselines[0];
  if (firstLargest === undefined || firstBaseline === undefined) throw new Error('no runs');
  const smallerRuns = others.filter((r) => r.judged);
  const runs: Run[] = [
    combine(firstBaseline.label, baselines),
    ...smallerRuns,
    combine(firstLargest.label, largestRuns),
    ...others.filter((r) => !r.judged),
  ];
  const rate = (r: Run): number => (r.messages * 1000) / r.ms;
  const [baseline, ...rest] = runs;
  const fanOuts = rest.filter((r) => r.judged);
  const biggest = fanOuts[fanOuts.length - 1];
  const smallest = fanOuts[0];
  if (baseline === undefined || biggest === undefined || smallest === undefined) throw new Error('no runs');
  const ratio = rate(biggest) / rate(baseline);
  const growth = biggest.maxRssBytes / smallest.maxRssBytes;
  const pass = ratio >= MIN_RATE_RATIO && biggest.maxRssBytes <= MAX_RSS_BYTES && growth <= MAX_RSS_GROWTH;
  const table = formatTable(
    [
      { title: 'sender' },
      { title: 'emails', align: 'right' },
      { title: 'seconds', align: 'right' },
      { title: 'emails/s', align: 'right' },
      { title: 'vs baseline', align: 'right' },
      { title: 'peak RSS MB', align: 'right' },
    ],
    runs.map((r) => [
      r.label,
      formatNumber(r.messages, 0),
      formatNumber(r.ms / 1000, 2),
      formatNumber(rate(r), 0),
      `${formatNumber(rate(r) / rate(baseline), 2)}×`,
      mb(r.maxRssBytes),
    ]),
  );
  return {
    title:
      `notify: digest fan-out to a loopback SMTP server vs raw nodemailer ` +
      `(pool of ${options.poolSize}, rate limit off, senders run with ${SENDER_V8_FLAGS.join(' ')})`,
    table,
    pass,
    summary:
      `fan-out / baseline = ${formatNumber(ratio, 2)}× (goal ≥ ${MIN_RATE_RATIO}×); ` +
      `peak RSS ${mb(biggest.maxRssBytes)} MB at ${formatNumber(largest, 0)} subscribers (goal ≤ ${mb(MAX_RSS_BYTES)} MB), ` +
      `${formatNumber(growth, 2)}× the ${formatNumber(counts[0] ?? largest, 0)}-subscriber run (goal ≤ ${MAX_RSS_GROWTH}×): ${pass ? 'PASS' : 'FAIL'}`,
  };
}

/** Child mode `baseline`: render the digest once, then send it `count` times through nodemailer's pool. */
async function baselineChild(): Promise<void> {
  const count = Number(process.env.NOTIFY_BENCH_COUNT ?? 1000);
  const poolSize = Number(process.env.NOTIFY_BENCH_POOL ?? 5);
  const settings = testSettings();
  const links = createLinks({
    baseUrl: settings.publicBaseUrl,
    secret: TEST_SECRET,
    mailto: settings.unsubscribeMailto,
  });
  const rendered = renderDigest(await loadNotifyTemplates(), {
    entries: [fixtureEntry('isw-roca-2025-03-02')],
    mode: 'immediate',
    sentAt: Date.now(),
    timeZone: settings.digestTimeZone,
  });
  const subscriber = {
    id: subscriberIdOf('baseline@example.org'),
    address: 'baseline@example.org',
    name: null,
  };
  const now = Date.now();
  const message = toMessageOptions(
    // Plain strings (`encoded: null`): nodemailer encodes the body for every message, as raw use does.
    composeDigestMail(
      { ...rendered, encoded: null },
      subscriber,
      'baseline',
      {
        unsubscribeUrl: links.unsubscribeUrl(subscriber, now),
        unsubscribeMailto: links.unsubscribeMailto(subscriber, now),
      },
      settings.from,
    ),
  );
  const transport = nodemailer.createTransport({
    pool: true,
    url: process.env.NOTIFY_BENCH_SMTP_URL ?? '',
    maxConnections: poolSize,
    maxMessages: 500,
  });
  // As many messages in flight as the notify worker allows itself (4 per connection), so the pool
  // is never idle: the best raw nodemailer can do over these connections.
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: poolSize * 4 }, async () => {
      while (next < count) {
        next += 1;
        await transport.sendMail(message);
      }
    }),
  );
  const ms = performance.now() - started;
  transport.close();
  process.send?.({ type: 'done', ms, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === 'baseline') {
    await baselineChild();
  } else {
    const counts = (process.env.NOTIFY_BENCH_COUNTS ?? '')
      .split(',')
      .map(Number)
      .filter((n) => n > 0);
    const result = await runNotifyBench(
      counts.length > 0 ? { ...DEFAULT_NOTIFY_BENCH_OPTIONS, counts } : DEFAULT_NOTIFY_BENCH_OPTIONS,
    );
    process.stdout.write(`\n${result.title}\n\n${result.table}\n\n${result.summary}\n`);
    process.exitCode = result.pass ? 0 : 1;
  }
}
