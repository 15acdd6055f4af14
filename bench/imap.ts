// IMAP inbox benchmark against a private Dovecot and redis-server: time from IMAP APPEND to the
// `ingest` job being queued (median, p95) with IDLE and with polling, and backfill throughput over a
// 1,000-message mailbox. The whole inbox path runs: sender screening with real DKIM/DMARC checks
// (mailauth, stub DNS), the real Pipeline's enqueueEmail, marking the message processed.
// Dovecot itself waits about 500 ms before announcing new mail to an IDLE client (it coalesces
// bursts of changes), so most of the IDLE figure is the server's; other servers differ.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createVerifier } from '../src/inbox/authenticate.js';
import { runBackfill } from '../src/inbox/backfill.js';
import { ImapWatcher } from '../src/inbox/imap-watcher.js';
import type { ImapSettings } from '../src/inbox/imap-settings.js';
import type { SenderPolicy } from '../src/inbox/sender-policy.js';
import { emailIdOf } from '../src/queue/names.js';
import { Pipeline } from '../src/queue/pipeline.js';
import { createSigningKey, dnsFor, iswMessage, signMessage } from '../tests/support/dkim.js';
import { startTestDovecot, waitUntil, type TestDovecot } from '../tests/support/dovecot.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../tests/support/redis.js';
import type { BenchSectionResult } from './parse.js';
import { formatNumber, formatTable } from './table.js';

/** The goal: APPEND → queued within 1 s at p95 with IDLE. */
export const IDLE_P95_GOAL_MS = 1_000;

export interface ImapBenchOptions {
  /** Sequential APPEND → queued samples with IDLE. */
  readonly idleSamples: number;
  /** Samples with polling (each waits a random part of the interval first, so phases spread). */
  readonly pollSamples: number;
  readonly pollMs: number;
  /** Messages in the backfill mailbox. */
  readonly backfillMessages: number;
}

export const DEFAULT_IMAP_BENCH_OPTIONS: ImapBenchOptions = {
  idleSamples: 50,
  pollSamples: 20,
  pollMs: 1_000,
  backfillMessages: 1_000,
};

/** One measured row; latencies in ms, throughput in messages per second. */
export interface ImapBenchRow {
  readonly measurement: string;
  readonly n: number;
  readonly medianMs: number | null;
  readonly p95Ms: number | null;
  readonly perSecond: number | null;
}

export interface ImapBenchResult extends BenchSectionResult {
  readonly rows: readonly ImapBenchRow[];
}

const POLICY: SenderPolicy = {
  mode: 'verify',
  allowlist: ['understandingwar.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: [],
  trustedAuthservIds: [],
};
const KEY = createSigningKey('understandingwar.org', 'bench');
const logger = pino({ level: 'silent' });

/** Nearest-rank percentile of a sample. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

interface Env {
  readonly dovecot: TestDovecot;
  readonly redisServer: TestRedis;
  readonly redis: Redis;
  readonly pipeline: Pipeline;
  readonly prefix: string;
}

/**
 * APPEND one signed report at a time and time until the watcher's enqueueEmail resolved. Before
 * each APPEND it waits `minWaitMs` plus a random part of `spreadMs`, so the watcher is back in IDLE
 * (mail arriving right after a catch-up is announced the moment IDLE starts, which would flatter
 * the numbers) and polls are hit at random phases.
 */
async function latency(
  env: Env,
  settings: ImapSettings,
  samples: number,
  minWaitMs: number,
  spreadMs: number,
): Promise<number[]> {
  const queuedAt = new Map<string, number>();
  const dns = dnsFor(KEY);
  const watcher = new ImapWatcher({
    settings,
    policy: POLICY,
    redis: env.redis,
    prefix: env.prefix,
    logger,
    verify: createVerifier({ resolver: dns.resolver }),
    deliver: async (raw, ref) => {
      const { emailId } = await env.pipeline.enqueueEmail(raw, { kind: 'imap', ref });
      queuedAt.set(emailId, performance.now());
    },
  });
  const caughtUp = new Promise((resolve) => watcher.once('caught-up', resolve));
  await watcher.start();
  await caughtUp;
  const out: number[] = [];
  try {
    for (let i = 0; i < samples; i += 1) {
      const raw = await signMessage(iswMessage(), KEY);
      const id = emailIdOf(raw);
      await new Promise((r) => setTimeout(r, minWaitMs + Math.random() * spreadMs));
      const t0 = performance.now();
      await env.dovecot.append(settings.mailbox, raw);
      const t1 = await waitUntil(() => queuedAt.get(id), 30_000, `sample ${i} to be queued`);
      out.push(t1 - t0);
    }
  } finally {
    await watcher.close();
  }
  return out;
}

/**
 * Run the IMAP bench: latency rows for IDLE and polling, throughput rows for a backfill and its
 * idempotent re-run. `pass` is the IDLE p95 goal.
 */
export async function runImapBench(options: Partial<ImapBenchOptions> = {}): Promise<ImapBenchResult> {
  const o = { ...DEFAULT_IMAP_BENCH_OPTIONS, ...options };
  const [dovecot, redisServer] = await Promise.all([startTestDovecot(), startTestRedis()]);
  const redis = new Redis(redisServer.url);
  const prefix = freshPrefix('bench');
  const pipeline = await Pipeline.start({
    redis: { url: redisServer.url },
    prefix,
    logger,
    workers: [],
    parse: () => Promise.reject(new Error('the bench runs no workers')),
    summarize: () => Promise.reject(new Error('the bench runs no workers')),
    targets: new Map(),
    summarizeConcurrency: 1,
    lockDurationMs: 60_000,
  });
  const env: Env = { dovecot, redisServer, redis, pipeline, prefix };
  const rows: ImapBenchRow[] = [];
  try {
    const idleBox = await dovecot.freshMailbox('bench-idle');
    const idle = await latency(env, dovecot.settings({ mailbox: idleBox }), o.idleSamples, 100, 300);
    rows.push({
      measurement: 'APPEND → ingest queued, IDLE',
      n: idle.length,
      medianMs: percentile(idle, 50),
      p95Ms: percentile(idle, 95),
      perSecond: null,
    });

    const pollBox = await dovecot.freshMailbox('bench-poll');
    const poll = await latency(
      env,
      dovecot.settings({ mailbox: pollBox, idle: false, pollMs: o.pollMs }),
      o.pollSamples,
      0,
      o.pollMs,
    );
    rows.push({
      measurement: `APPEND → ingest queued, polling every ${o.pollMs} ms`,
      n: poll.length,
      medianMs: percentile(poll, 50),
      p95Ms: percentile(poll, 95),
      perSecond: null,
    });

    const archive = await dovecot.freshMailbox('bench-archive');
    const day = Date.parse('2025-01-02T12:00:00Z');
    for (let i = 0; i < o.backfillMessages; i += 1) {
      await dovecot.append(archive, await signMessage(iswMessage(), KEY), {
        date: new Date(day + i * 3_600_000),
      });
    }
    const dns = dnsFor(KEY);
    const backfill = (): ReturnType<typeof runBackfill> =>
      runBackfill({
        settings: dovecot.settings(),
        mailbox: archive,
        since: new Date('2025-01-01T00:00:00Z'),
        dryRun: false,
        policy: POLICY,
        redis,
        prefix,
        logger,
        verify: createVerifier({ resolver: dns.resolver }),
        deliver: async (raw, ref) => {
          await pipeline.enqueueEmail(raw, { kind: 'imap', ref });
        },
      });
    const first = await backfill();
    rows.push({
      measurement: `backfill ${formatNumber(first.total, 0)} messages (verify + queue)`,
      n: first.done,
      medianMs: null,
      p95Ms: null,
      perSecond: first.perSecond,
    });
    const again = await backfill();
    rows.push({
      measurement: 'backfill re-run (all already queued)',
      n: again.done,
      medianMs: null,
      p95Ms: null,
      perSecond: again.perSecond,
    });
  } finally {
    await pipeline.close();
    await redis.quit();
    await Promise.all([dovecot.close(), redisServer.close()]);
  }

  const idleRow = rows[0];
  const pass = idleRow?.p95Ms !== null && idleRow?.p95Ms !== undefined && idleRow.p95Ms <= IDLE_P95_GOAL_MS;
  const ms = (v: number | null): string => (v === null ? '—' : `${formatNumber(v, 1)} ms`);
  const table = formatTable(
    [
      { title: 'measurement' },
      { title: 'n', align: 'right' },
      { title: 'median', align: 'right' },
      { title: 'p95', align: 'right' },
      { title: 'msg/s', align: 'right' },
    ],
    rows.map((r) => [
      r.measurement,
      String(r.n),
      ms(r.medianMs),
      ms(r.p95Ms),
      r.perSecond === null ? '—' : formatNumber(r.perSecond, 1),
    ]),
  );
  return {
    title:
      'imap: APPEND → ingest job queued (Dovecot, real DKIM/DMARC check, real queue) and backfill throughput',
    table,
    pass,
    summary: `IDLE p95 = ${ms(idleRow?.p95Ms ?? null)} (goal ≤ ${IDLE_P95_GOAL_MS} ms): ${pass ? 'PASS' : 'FAIL'}`,
    rows,
  };
}
