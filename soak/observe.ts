// What the soak reads back after the run: posts on both boards, the store, the quarantine, the
// queues and the logs — the "observed" half of reconciliation.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Quarantine } from '../src/inbox/quarantine.js';
import { QUEUE_NAMES } from '../src/queue/names.js';
import { Store } from '../src/queue/store.js';
import { createLogger } from '../src/shared/logger.js';
import { decodeTitle, type RhymixTestServer } from '../tests/support/rhymix-server.js';
import type {
  LogFile,
  ObservedFailedJob,
  ObservedHeld,
  ObservedPost,
  ObservedRejection,
} from './reconcile.js';

/** `isw-ko-<reportId>`, the post key every board keeps (src/publish/post.ts `postKey`). */
const POST_KEY = /^isw-ko-(.+)$/;

/** Posts of the local file board: `<boardDir>/posts/*.json`. */
export function fileBoardPosts(boardDir: string): ObservedPost[] {
  const dir = path.join(boardDir, 'posts');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return []; // no post written at all: the folder appears with the first one
  }
  return names.map((name) => {
    const record = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as {
      post: { key: string; reportId?: string; title: string; html: string };
    };
    const reportId = record.post.reportId ?? POST_KEY.exec(record.post.key)?.[1] ?? null;
    return { target: 'file', reportId, title: record.post.title, html: record.post.html, where: name };
  });
}

/** The post ids the file board's index.html links to (`posts/<id>.html`). */
export function fileBoardIndex(boardDir: string): string[] {
  let html: string;
  try {
    html = readFileSync(path.join(boardDir, 'index.html'), 'utf8');
  } catch {
    return []; // no index page at all: every post is missing from it
  }
  return [...html.matchAll(/href="posts\/([^"]+)\.html"/g)].map((m) => decodeURIComponent(m[1] ?? ''));
}

/** The bot's documents on the Rhymix test board, each tied to its report by the machine tag. */
export function rhymixPosts(board: RhymixTestServer, memberSrl: number): ObservedPost[] {
  return board
    .documents()
    .filter((d) => d.memberSrl === memberSrl)
    .map((d) => {
      const tag = d.tags.map((t) => POST_KEY.exec(t)).find((m) => m !== null);
      return {
        target: 'rhymix',
        reportId: tag?.[1] ?? null,
        title: decodeTitle(d.title),
        html: d.content,
        where: `document_srl ${d.documentSrl}`,
      };
    });
}

/** Every `*.log` file of the run directory (the bot processes and the commands run). */
export function readLogs(dir: string): LogFile[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((name) => ({ name, text: readFileSync(path.join(dir, name), 'utf8') }));
}

/** What the store, the quarantine and BullMQ hold at the end of the run. */
export interface StoreFacts {
  readonly reportEmail: Record<string, string>;
  readonly ingested: Record<string, string>;
  readonly rejections: ObservedRejection[];
  readonly held: ObservedHeld[];
  readonly failedJobs: ObservedFailedJob[];
  /** `queue state` → jobs not finished. */
  readonly pendingJobs: Record<string, number>;
  /** Attempts beyond the first, per queue (stalled take-overs included). */
  readonly retries: Record<string, number>;
  /** Post URL → report id, for finding reports in digest emails. */
  readonly postUrls: Map<string, string>;
}

const UNFINISHED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

function field(data: unknown, name: string): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}

// Redis restarts are injected on purpose; the observer's connection has its own listener.
const ignoreQueueError = (): void => undefined;

/** Jobs still to be done per queue and state, for the drain loop. */
export async function pendingJobs(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of QUEUE_NAMES) {
    const queue = new Queue(name, { connection: redis, prefix });
    queue.on('error', ignoreQueueError);
    try {
      const counts = await queue.getJobCounts(...UNFINISHED);
      for (const [state, n] of Object.entries(counts)) if (n > 0) out[`${name} ${state}`] = n;
    } finally {
      await queue.close();
    }
  }
  return out;
}

/** Read everything reconciliation needs from Redis (the bot's prefix). */
export async function storeFacts(
  redis: Redis,
  prefix: string,
  targets: readonly string[],
): Promise<StoreFacts> {
  const store = new Store(redis, prefix);
  const reportEmail: Record<string, string> = {};
  const postUrls = new Map<string, string>();
  for (const reportId of await store.listReports(1_000_000)) {
    const stored = await store.getReport(reportId);
    if (stored !== null) reportEmail[reportId] = stored.emailId;
    for (const target of targets) {
      const post = await store.getPost(reportId, target);
      if (post !== null && post.url !== '') postUrls.set(post.url, reportId);
    }
  }
  const rejections = (await store.listRejections()).map((r) => ({
    emailId: r.emailId,
    code: r.code,
    reason: r.reason,
  }));
  const quarantine = new Quarantine({
    redis,
    prefix,
    logger: createLogger({ level: 'silent', format: 'json' }),
    deliver: () => Promise.reject(new Error('the soak never releases held mail')),
  });
  const held = (await quarantine.list(1_000_000)).map((h) => ({ id: h.id, code: h.code, reason: h.reason }));

  const ingested: Record<string, string> = {};
  const failedJobs: ObservedFailedJob[] = [];
  const retries: Record<string, number> = {};
  for (const name of QUEUE_NAMES) {
    const queue = new Queue(name, { connection: redis, prefix });
    queue.on('error', ignoreQueueError);
    try {
      for (const state of ['completed', 'failed'] as const) {
        for (const job of (await queue.getJobs([state], 0, -1)) as Job[]) {
          const started = Math.max(job.attemptsStarted, job.attemptsMade);
          retries[name] = (retries[name] ?? 0) + Math.max(0, started - 1);
          const emailId = field(job.data, 'emailId');
          if (state === 'completed' && name === 'ingest' && emailId !== null) {
            const reportId = field(job.returnvalue, 'reportId');
            if (reportId !== null) ingested[emailId] = reportId;
          }
          if (state === 'failed') {
            failedJobs.push({
              queue: name,
              jobId: job.id ?? '?',
              emailId,
              reportId: field(job.data, 'reportId'),
              reason: job.failedReason,
            });
          }
        }
      }
    } finally {
      await queue.close();
    }
  }
  return {
    reportEmail,
    ingested,
    rejections,
    held,
    failedJobs,
    pendingJobs: await pendingJobs(redis, prefix),
    retries,
    postUrls,
  };
}

/** The watcher's position in a mailbox, from its key in Redis (`<prefix>:inbox:mailbox:<id>`). */
export async function watcherPosition(
  redis: Redis,
  prefix: string,
): Promise<{ uidValidity: string | null; lastUid: number }> {
  const keys = await redis.keys(`${prefix}:inbox:mailbox:*`);
  let best = { uidValidity: null as string | null, lastUid: 0 };
  for (const key of keys) {
    const [uidValidity, lastUid] = await redis.hmget(key, 'uidValidity', 'lastUid');
    const n = Number(lastUid ?? 0);
    if (n >= best.lastUid) best = { uidValidity: uidValidity ?? null, lastUid: n };
  }
  return best;
}
