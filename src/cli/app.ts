import path from 'node:path';
import { Metrics } from '../admin/metrics.js';
import { secretValues, type Env } from '../config/index.js';
import {
  accessTokenProviderFor,
  DropFolder,
  ImapWatcher,
  imapSettingsFrom,
  senderPolicyFrom,
} from '../inbox/index.js';
import type { Redis } from 'ioredis';
import { parseEmail } from '../parse/index.js';
import {
  FileBoard,
  LinkResolver,
  loadPostTemplates,
  type BoardAdapter,
  type PostTemplates,
} from '../publish/index.js';
import {
  publishTargetNamesFrom,
  RedisSpacer,
  RhymixBoard,
  rhymixSettingsFrom,
  spacerKey,
} from '../publish/rhymix/index.js';
import { WebhookTarget, webhookSettingsFrom } from '../publish/webhook/index.js';
import { createRedis } from '../queue/connection.js';
import { AppError } from '../shared/app-error.js';
import { BoardTarget, shortNamesFrom } from '../queue/board-target.js';
import type { RedisTarget } from '../queue/connection.js';
import { emailIdOfMessageId, QUEUE_NAMES, type QueueName } from '../queue/names.js';
import { startNotifyWorkers, storeDigestSource, type NotifyWorkers } from '../queue/notify-worker.js';
import { resolveNotifySettings } from '../notify/index.js';

/** What `isw-ko worker --queues` can name: the pipeline's queues and the notify stage. */
export const WORKER_NAMES = [...QUEUE_NAMES, 'notify'] as const;
export type WorkerName = (typeof WORKER_NAMES)[number];
import { Pipeline } from '../queue/pipeline.js';
import type { PublishTarget } from '../queue/publish-worker.js';
import { createLogger, type LogFormat, type Logger } from '../shared/logger.js';
import { DEFAULT_PROMPTS_DIR, DEFAULT_TEMPLATES_DIR } from '../shared/paths.js';
import { startRedisServer, type RunningRedis } from '../shared/redis-server.js';
import {
  createLlmClient,
  loadPrompts,
  resolveLlmSettings,
  Summarizer,
  type LlmSettings,
} from '../summarize/index.js';
import { parseOptionsFrom } from './context.js';

/**
 * The root logger for this process, as the configuration asks. A one-shot command (`jobs`,
 * `ingest`, `subscribers` …) prints its own answer: at the default level its log keeps to warnings
 * and errors, so "pipeline started … stopped" does not bury it; LOG_LEVEL=debug still shows all.
 */
export function loggerFor(env: Env, oneShot = false): Logger {
  const format: LogFormat =
    env.LOG_FORMAT === 'auto'
      ? process.stdout.isTTY && env.NODE_ENV !== 'production'
        ? 'pretty'
        : 'json'
      : env.LOG_FORMAT;
  const level = oneShot && env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL;
  return createLogger({ level, format, secrets: secretValues(env) });
}

/**
 * The boards posts go to (PUBLISH_TARGETS, or the file board plus whatever is configured). Rhymix
 * logs in and resolves its category here, so a wrong setting stops start-up with the reason — in a
 * process that publishes. Others (`jobs`, `ingest`, a summarize-only worker) only need the boards'
 * names to queue publish jobs, and must work while a board is down: they get {@link notHere}.
 */
async function publishAdapters(
  env: Env,
  redisTarget: RedisTarget,
  logger: Logger,
  templates: PostTemplates,
  publishes: boolean,
): Promise<{ list: BoardAdapter[]; close: () => Promise<void> }> {
  const list: BoardAdapter[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers) await closer();
  };
  try {
    await addAdapters();
  } catch (err) {
    await close(); // a board that refused the login: its spacer connection must not keep us alive
    throw err;
  }
  return { list, close };

  async function addAdapters(): Promise<void> {
    for (const name of publishTargetNamesFrom(env)) {
      if (name === 'file') {
        list.push(new FileBoard(env.BOARD_DIR ?? path.join(env.DATA_DIR, 'board'), { templates, logger }));
      } else if (name === 'rhymix') {
        const settings = rhymixSettingsFrom(env);
        if (settings === null)
          throw new AppError(
            'RHYMIX_NOT_CONFIGURED',
            'user',
            'PUBLISH_TARGETS names rhymix but RHYMIX_URL is not set',
            { hint: 'set RHYMIX_URL, RHYMIX_MID, RHYMIX_USER and RHYMIX_PASSWORD' },
          );
        if (!publishes) {
          list.push(notHere('rhymix'));
          continue;
        }
        // The spacing between posts holds across every process posting to this board.
        const redis = createRedis(redisTarget, 'isw-ko-rhymix-spacer');
        redis.on('error', (err) => {
          logger.warn({ err: err.message }, 'rhymix spacer redis connection error');
        });
        closers.push(() => redis.quit());
        const spacer = new RedisSpacer(redis, {
          key: spacerKey(env.REDIS_PREFIX, settings.baseUrl),
          intervalMs: settings.minIntervalMs,
        });
        list.push(await RhymixBoard.connect(settings, { spacer, logger }));
      } else {
        const settings = webhookSettingsFrom(env);
        if (settings === null)
          throw new AppError(
            'WEBHOOK_NOT_CONFIGURED',
            'user',
            'PUBLISH_TARGETS names webhook but WEBHOOK_URL is not set',
            { hint: 'set WEBHOOK_URL and WEBHOOK_SECRET' },
          );
        list.push(new WebhookTarget(settings, { logger }));
      }
    }
  }
}

/** A board by name only, in a process without a publish worker: nothing may post through it. */
function notHere(name: string): BoardAdapter {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new AppError(
        'BUG',
        'bug',
        `the ${name} board is not connected in a process that runs no publish worker`,
      ),
    );
  return { name, find: refuse, publish: refuse, update: refuse };
}

/** Redis as configured: REDIS_URL, or the embedded redis-server under DATA_DIR (started if needed). */
export async function connectRedis(
  env: Env,
  logger: Logger,
  handlesSignals = false,
): Promise<{ target: RedisTarget; embedded: RunningRedis | null }> {
  if (env.REDIS_URL !== undefined) return { target: { url: env.REDIS_URL }, embedded: null };
  const embedded = await startRedisServer({
    bin: env.REDIS_SERVER_BIN,
    dir: path.join(env.DATA_DIR, 'redis'),
    logger,
    ownProcessGroup: handlesSignals,
  });
  return { target: { socket: embedded.socket ?? '' }, embedded };
}

export interface AppOptions {
  /** The stages this process works on: the pipeline's queues, and `notify` (digest fan-out and sending). */
  readonly workers: readonly WorkerName[];
  /** Watch the drop folder (only `isw-ko run` does). */
  readonly inbox: boolean;
  readonly logger?: Logger;
  /** Lock duration for the workers; default: two LLM timeouts plus a margin (a summary may need a repair call). */
  readonly lockDurationMs?: number;
  readonly backoffScale?: number;
  /** Prometheus metrics of this process; default: a new registry. */
  readonly metrics?: Metrics;
  /**
   * The caller shuts the app down itself on SIGINT/SIGTERM (`run`, `worker`): an embedded
   * redis-server then runs in a process group of its own, so a Ctrl-C reaches only this process,
   * which finishes its current jobs before stopping redis. Short commands leave it in ours, and
   * a Ctrl-C stops both at once.
   */
  readonly handlesSignals?: boolean;
}

/** Everything `isw-ko run` / `isw-ko worker` runs, wired from the configuration. */
export interface App {
  readonly env: Env;
  readonly logger: Logger;
  readonly pipeline: Pipeline;
  readonly llm: LlmSettings;
  /** The IMAP watcher (IMAP_HOST set) or the drop folder; null when this process watches no inbox. */
  readonly inbox: DropFolder | ImapWatcher | null;
  /** What `/metrics` shows; parts wired here count into it (jobs, LLM tokens and errors). */
  readonly metrics: Metrics;
  /** The notify stage's queues, subscribers and mailer. */
  readonly notify: NotifyWorkers;
  /** `reprocess --from notify`: mail a report again to whoever has not had it. */
  readonly renotify: (reportId: string) => Promise<string>;
  /** Stop taking work, finish current jobs, close everything; every step runs even if one fails. */
  close(): Promise<void>;
}

/**
 * One publish target per board adapter, sharing one link resolver (and its cache) and the
 * generic sources' short names. Also what the pipeline bench publishes through.
 */
export function publishTargets(
  adapters: readonly BoardAdapter[],
  deps: { readonly env: Env; readonly templates: PostTemplates; readonly logger: Logger },
): Map<string, PublishTarget> {
  // BOARD_RESOLVE_LINKS=false: never contact the tracking host; ISW's own URL is used instead.
  const resolver = new LinkResolver({
    timeoutMs: 10_000,
    followRedirects: deps.env.BOARD_RESOLVE_LINKS,
    logger: deps.logger,
  });
  const shortNameFor = shortNamesFrom(deps.env.GENERIC_SOURCE_NAMES);
  return new Map(
    adapters.map((adapter) => [
      adapter.name,
      new BoardTarget({ adapter, templates: deps.templates, resolver, shortNameFor }),
    ]),
  );
}

/**
 * The composition root: the only place that turns configuration into objects. Config was
 * validated before this runs; nothing connects at import time. When a part fails to start (a
 * board that refuses the login, a busy port), what had started is stopped again, newest first —
 * the embedded redis-server last — so the process exits instead of hanging on open connections.
 */
export async function startApp(env: Env, options: AppOptions): Promise<App> {
  const logger = options.logger ?? loggerFor(env, options.handlesSignals !== true);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    return await assembleApp(env, { ...options, logger }, undo);
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (stepErr) {
        logger.warn({ err: stepErr }, 'error while stopping after a failed start; continuing');
      }
    }
    throw err;
  }
}

async function assembleApp(
  env: Env,
  options: AppOptions & { readonly logger: Logger },
  undo: (() => Promise<unknown>)[],
): Promise<App> {
  const logger = options.logger;
  const llm = resolveLlmSettings(env);
  if (llm.usingLocalOllamaDefault && options.workers.includes('summarize')) {
    logger.warn(
      { baseURL: llm.baseURL, model: llm.model },
      'no OPENAI_API_KEY or OPENAI_BASE_URL set: using a local Ollama; summaries wait in the queue until it answers',
    );
  }
  const [prompts, templates] = await Promise.all([
    loadPrompts(env.PROMPTS_DIR ?? DEFAULT_PROMPTS_DIR),
    loadPostTemplates(env.TEMPLATES_DIR ?? DEFAULT_TEMPLATES_DIR),
  ]);
  // Settings that are validated as a whole: a half-configured IMAP stops start-up here, before any connection.
  const imap = options.inbox ? imapSettingsFrom(env) : null;
  const senderPolicy = senderPolicyFrom(env);
  if (imap !== null && senderPolicy.mode === 'off') {
    logger.warn(
      'SENDER_VERIFY=off: mail is NOT authenticated; anyone can post to your board by claiming to be ISW',
    );
  }
  const notifySettings = await resolveNotifySettings(env, logger);
  let resolveNotify: (n: NotifyWorkers) => void = () => undefined;
  const notifyReady = new Promise<NotifyWorkers>((resolve) => {
    resolveNotify = resolve;
  });
  const { target, embedded } = await connectRedis(env, logger, options.handlesSignals === true);
  undo.push(async () => embedded?.stop());

  const metrics = options.metrics ?? new Metrics();
  let pipeline: Pipeline | null = null;
  const ledger = {
    used: (month: string) => (pipeline === null ? Promise.resolve(0) : pipeline.store.tokensUsed(month)),
    add: (month: string, tokens: number) => {
      metrics.llmTokens.inc(Math.max(0, tokens));
      return pipeline === null ? Promise.resolve() : pipeline.store.addTokens(month, tokens);
    },
  };
  const summarizer = new Summarizer({ client: createLlmClient(llm), settings: llm, prompts, ledger, logger });
  const adapters = await publishAdapters(env, target, logger, templates, options.workers.includes('publish'));
  undo.push(() => adapters.close());
  const targets = publishTargets(adapters.list, { env, templates, logger });

  const parseOptions = parseOptionsFrom(env);
  pipeline = await Pipeline.start({
    redis: target,
    prefix: env.REDIS_PREFIX,
    logger,
    workers: options.workers.filter((w): w is QueueName => w !== 'notify'),
    // Notify starts right after the pipeline; a publish finishing before then waits for it.
    onPublished: async (reportId) => {
      await (await notifyReady).onReportPublished(reportId);
    },
    parse: (raw) => parseEmail(raw, parseOptions),
    maxMessageBytes: parseOptions.maxMessageBytes,
    summarize: async (reportId, report) => {
      try {
        return await summarizer.summarize(reportId, report);
      } catch (err) {
        metrics.llmErrors.inc({ code: err instanceof AppError ? err.code : 'UNEXPECTED' });
        throw err;
      }
    },
    targets,
    summarizeConcurrency: llm.concurrency,
    lockDurationMs: options.lockDurationMs ?? env.JOB_LOCK_MS ?? 2 * llm.timeoutMs + 30_000,
    stalledIntervalMs: env.JOB_STALLED_CHECK_MS,
    ...(options.backoffScale === undefined ? {} : { backoffScale: options.backoffScale }),
    onJobFinished: (event) => {
      metrics.observeJob(event);
    },
  });
  const started = pipeline;
  undo.push(() => started.close());
  const runsNotify = options.workers.includes('notify');
  const notify = await startNotifyWorkers({
    redis: target,
    prefix: env.REDIS_PREFIX,
    logger,
    settings: notifySettings,
    source: storeDigestSource(started.store, [...targets.keys()]),
    workers: { fanOut: runsNotify, send: runsNotify },
    scheduleDaily: runsNotify,
    stalledIntervalMs: env.JOB_STALLED_CHECK_MS,
    // JOB_LOCK_MS applies to sends too: a dead process's in-flight sends are taken over as soon.
    ...(env.JOB_LOCK_MS === undefined ? {} : { lockDurationMs: env.JOB_LOCK_MS }),
    ...(options.backoffScale === undefined ? {} : { backoffScale: options.backoffScale }),
    onSent: () => {
      metrics.emailsSent.inc();
    },
  });
  resolveNotify(notify);
  undo.push(() => notify.close());
  metrics.observeQueues(() => started.counts());

  // The inbox: the IMAP watcher when IMAP_HOST is set, else the drop folder (the embedded default).
  let inbox: DropFolder | ImapWatcher | null = null;
  let inboxRedis: Redis | null = null;
  if (options.inbox) {
    const log = logger.child({ stage: 'inbox' });
    if (imap !== null) {
      const redis = createRedis(target, 'isw-ko-inbox');
      inboxRedis = redis;
      undo.push(() => redis.quit());
      inboxRedis.on('error', (err) => {
        log.warn({ err: err.message }, 'inbox redis connection error; reconnecting');
      });
      const accessToken = accessTokenProviderFor(imap, {
        logger: log,
        redis: inboxRedis,
        prefix: env.REDIS_PREFIX,
      });
      const watcher = new ImapWatcher({
        settings: imap,
        policy: senderPolicy,
        ...(accessToken === undefined ? {} : { accessToken }),
        redis: inboxRedis,
        prefix: env.REDIS_PREFIX,
        // The watcher names its own stage and mailbox (a `stage` here would appear twice).
        logger,
        timing: { maxMessageBytes: parseOptions.maxMessageBytes },
        deliver: async (raw, ref) => {
          await started.enqueueEmail(raw, { kind: 'imap', ref });
        },
        // Not fetched, but not unseen either: listed with the rejected emails for an admin.
        tooLarge: async (m) => {
          await started.rejectTooLarge(
            m.messageId === null ? `u${m.uid}` : emailIdOfMessageId(m.messageId),
            { kind: 'imap', ref: m.ref },
            m.size,
            m.limit,
            'it is still in the mailbox (`isw-ko backfill` takes it once the limit is raised)',
          );
        },
        // UNSUBSCRIBE_MAILTO pointed at this mailbox: subscribers' unsubscribe mails are honoured.
        // One whose token does not verify is left as it came, like any other mail not for us.
        unsubscribeMail: async (subject) => {
          const outcome = await notify.unsubscribeByMail(subject);
          return outcome === 'unsubscribed' || outcome === 'already';
        },
      });
      watcher.on('disconnected', () => {
        metrics.imapReconnects.inc();
      });
      inbox = watcher;
      undo.push(() => watcher.close());
      await watcher.start();
    } else {
      const folder = new DropFolder(
        { dir: env.INBOX_DIR, pollMs: env.INBOX_POLL_MS, logger: log },
        async (raw, ref) => {
          await started.enqueueEmail(raw, { kind: 'drop-folder', ref });
        },
      );
      inbox = folder;
      undo.push(() => folder.close());
      await folder.start();
    }
  }

  let closing: Promise<void> | null = null;
  return {
    env,
    logger,
    pipeline: started,
    llm,
    inbox,
    metrics,
    notify,
    renotify: async (reportId) => {
      // Only a published report has a post to link to and a summary to mail.
      if ((await started.store.getStages(reportId)).publish?.state !== 'done') {
        throw new AppError(
          'NOT_PUBLISHED',
          'user',
          `report ${reportId} has not been published yet, so there is nothing to mail`,
          {
            hint: 'run `isw-ko reprocess <id> --from summarize` (or --from publish) first; subscribers are mailed when it is published',
          },
        );
      }
      return notify.renotify(reportId);
    },
    close: () =>
      (closing ??= (async () => {
        const steps: (() => Promise<void>)[] = [
          async () => inbox?.close(),
          async () => {
            await inboxRedis?.quit();
          },
          () => started.close(),
          () => notify.close(),
          () => adapters.close(),
          async () => embedded?.stop(),
        ];
        for (const step of steps) {
          try {
            await step();
          } catch (err) {
            logger.warn({ err }, 'error during shutdown; continuing');
          }
        }
        logger.info('stopped');
        logger.flush();
      })()),
  };
}
