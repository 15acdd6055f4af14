// The notify part of the soak: a test SMTP server, subscribers, daily digest runs, and what the
// SMTP server accepted, read back for the verdict. Used only when the pipeline runs the notify
// stage (see `notifyWired`); until then the soak runs without it and says so.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { loadEnv } from '../src/config/index.js';
import type { NotifyWorkers } from '../src/queue/notify-worker.js';
import { Store } from '../src/queue/store.js';
import { createLogger } from '../src/shared/logger.js';
import { REPO_ROOT } from '../tests/support/fixtures.js';
import { startTestSmtpServer, type TestSmtpServer } from '../tests/support/smtp-server.js';
import type { Random } from './random.js';
import type { ExpectedSubscriber, NotifyFacts, ObservedMail } from './reconcile.js';

/**
 * Whether the bot runs the notify stage: its composition root (src/cli/app.ts) or the pipeline
 * (src/queue/pipeline.ts) starts src/queue/notify-worker.ts. Read from the source, because the soak
 * drives the bot as separate processes and cannot ask them.
 */
export function notifyWired(): boolean {
  return ['src/cli/app.ts', 'src/queue/pipeline.ts'].some((file) =>
    /from '\.{1,2}\/(?:queue\/)?notify-worker\.js'/.test(readFileSync(path.join(REPO_ROOT, file), 'utf8')),
  );
}

/** Share of subscribers who get one email per report; the others get daily digests. */
const IMMEDIATE_SHARE = 0.7;

export interface NotifySection {
  readonly smtp: TestSmtpServer;
  readonly subscribers: readonly ExpectedSubscriber[];
  /** Settings for the bot processes (SMTP, sender, links). */
  readonly vars: Readonly<Record<string, string>>;
  /** Add the subscribers (all active, admin-added) before the bot starts. */
  seed(): Promise<void>;
  /** Enqueue a daily digest run for now (`sendDaily`), as the job scheduler would at DIGEST_TIME. */
  triggerDaily(): Promise<string>;
  /** Waiting, active or delayed notify jobs, per queue. */
  pending(): Promise<Record<string, number>>;
  /**
   * Attempts beyond the first per notify queue, over the jobs BullMQ still keeps (completed send
   * jobs are trimmed to the last 1,000, so this can undercount).
   */
  retries(): Promise<Record<string, number>>;
  /** Every email the SMTP server accepted, with the reports it names (by post URL). */
  observe(postUrls: ReadonlyMap<string, string>): Promise<NotifyFacts>;
  close(): Promise<void>;
}

/**
 * Start the SMTP server and prepare `count` subscribers (70 % immediate, 30 % daily).
 * `redisUrl` and `prefix` are the bot's, so the subscribers land where its notify stage reads.
 */
export async function startNotifySection(options: {
  readonly count: number;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly dataDir: string;
  readonly random: Random;
}): Promise<NotifySection> {
  // Loaded here, not at the top: a soak without notify must not depend on the stage's modules.
  const { resolveNotifySettings } = await import('../src/notify/notify-settings.js');
  const { SubscriberStore } = await import('../src/notify/subscribers.js');
  const { NOTIFY_QUEUE_NAMES, startNotifyWorkers, storeDigestSource } =
    await import('../src/queue/notify-worker.js');
  const smtp = await startTestSmtpServer();
  const subscribers: ExpectedSubscriber[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const address = `reader${String(i + 1).padStart(4, '0')}@subscribers.example.org`;
    subscribers.push({
      id: '',
      address,
      mode: options.random.chance(IMMEDIATE_SHARE) ? 'immediate' : 'daily',
    });
  }
  const vars: Record<string, string> = {
    SMTP_URL: smtp.url,
    MAIL_FROM: 'ISW 브리핑 <briefing@isw-ko.example>',
    MAIL_RATE_PER_SECOND: '0',
    MAIL_POOL_SIZE: '2',
    PUBLIC_BASE_URL: 'http://127.0.0.1:8080',
  };
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', () => {
    // Redis restarts are part of the soak; ioredis reconnects, commands wait.
  });
  const queues = [NOTIFY_QUEUE_NAMES.fanOut, NOTIFY_QUEUE_NAMES.send].map((name) => {
    const queue = new Queue(name, { connection: redis, prefix: options.prefix });
    queue.on('error', () => {
      // The same Redis restarts; the connection's own listener above covers them.
    });
    return queue;
  });
  let producer: NotifyWorkers | null = null;

  return {
    smtp,
    subscribers,
    vars,
    async seed() {
      const store = new SubscriberStore(redis, options.prefix);
      for (const [i, s] of subscribers.entries()) {
        const { subscriber } = await store.add({ address: s.address, mode: s.mode, source: 'cli' });
        subscribers[i] = { ...s, id: subscriber.id };
      }
    },
    async triggerDaily() {
      if (producer === null) {
        const env = loadEnv({ env: { ...vars, DATA_DIR: options.dataDir }, envFile: null });
        producer = await startNotifyWorkers({
          redis: { url: options.redisUrl },
          prefix: options.prefix,
          logger: createLogger({ level: 'silent', format: 'json' }),
          settings: await resolveNotifySettings(env),
          source: storeDigestSource(new Store(redis, options.prefix), ['file']),
          workers: { fanOut: false, send: false },
        });
      }
      return producer.sendDaily();
    },
    async pending() {
      const out: Record<string, number> = {};
      for (const queue of queues) {
        const c = await queue.getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
        // The daily job scheduler keeps its next run (tomorrow at DIGEST_TIME) as a delayed job:
        // that one is not work left undone.
        const delayed = (await queue.getJobs(['delayed'], 0, -1)).filter((j) => j.repeatJobKey === undefined);
        out[queue.name] = Object.values(c).reduce((a, b) => a + b, 0) + delayed.length;
      }
      return out;
    },
    async retries() {
      const out: Record<string, number> = {};
      for (const queue of queues) {
        let n = 0;
        for (const job of await queue.getJobs(['completed', 'failed'], 0, -1)) {
          n += Math.max(0, Math.max(job.attemptsStarted, job.attemptsMade) - 1);
        }
        out[`${queue.name} (last 1,000 kept)`] = n;
      }
      return out;
    },
    async observe(postUrls) {
      const mails: ObservedMail[] = [];
      // An immediate digest is rendered once and personalised per subscriber (links only): one
      // parsed copy per digest is enough for the markup check, and parsing 20,000 would take
      // minutes. Daily digests differ per subscriber (each covers their own window): all parsed.
      const parsedDigests = new Set<string>();
      for (const message of smtp.messages) {
        const immediate = /^notify-(r.+)-[^-@]+@/.exec(message.messageId ?? '')?.[1];
        let html = '';
        let reportIds: string[] = [];
        if (immediate === undefined || !parsedDigests.has(immediate)) {
          if (immediate !== undefined) parsedDigests.add(immediate);
          const parsed = await simpleParser(message.raw, { skipImageLinks: true });
          html = typeof parsed.html === 'string' ? parsed.html : '';
          const text = `${parsed.text ?? ''}\n${html}`;
          reportIds = [...postUrls].filter(([url]) => text.includes(url)).map(([, id]) => id);
        }
        for (const to of message.to) {
          mails.push({ to, messageId: message.messageId, reportIds: [...new Set(reportIds)], html });
        }
      }
      return { subscribers, mails };
    },
    async close() {
      const steps: (() => Promise<unknown>)[] = [
        async () => producer?.close(),
        ...queues.map((q) => () => q.close()),
        () => redis.quit(),
        () => smtp.close(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          process.stderr.write(`soak: notify cleanup: ${String(err)}\n`);
        }
      }
    },
  };
}
