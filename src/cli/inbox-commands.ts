import type { Command } from 'commander';
import type { Env } from '../config/index.js';
import {
  accessTokenProviderFor,
  createBackfillProgressBar,
  imapSettingsFrom,
  Quarantine,
  runBackfill,
  senderPolicyFrom,
  type AccessTokenProvider,
} from '../inbox/index.js';
import { createRedis } from '../queue/connection.js';
import { AppError } from '../shared/app-error.js';
import type { App } from './app.js';

export interface InboxCommandContext {
  readonly env: () => Env;
  /** A producer-only app (no workers, no inbox watching): Redis and the queues. */
  readonly open: () => Promise<App>;
  readonly write: (text: string) => void;
}

/** `isw-ko backfill` and `isw-ko quarantine list|release`. */
export function registerInboxCommands(program: Command, ctx: InboxCommandContext): void {
  program
    .command('backfill')
    .description(
      'walk older IMAP mail and queue the genuine ISW reports in it (idempotent: queued mail is skipped)',
    )
    .requiredOption('--since <date>', 'the first day to look at, e.g. 2025-01-01')
    .option('--mailbox <name>', 'mailbox to walk (default IMAP_MAILBOX)')
    .option('--dry-run', 'count what would be queued, queue nothing')
    .action(async (opts: { since: string; mailbox?: string; dryRun?: boolean }) => {
      const env = ctx.env();
      const settings = imapSettingsFrom(env);
      if (settings === null) {
        throw new AppError(
          'IMAP_NOT_CONFIGURED',
          'user',
          'backfill reads an IMAP mailbox, and IMAP_HOST is not set',
          {
            hint: 'set IMAP_HOST, IMAP_USER and IMAP_PASSWORD (see the README configuration table)',
          },
        );
      }
      const since = new Date(`${opts.since}T00:00:00Z`);
      if (Number.isNaN(since.getTime())) {
        throw new AppError('BAD_DATE', 'user', `--since ${JSON.stringify(opts.since)} is not a date`, {
          hint: 'use YYYY-MM-DD',
        });
      }
      const app = await ctx.open();
      const redis = createRedis(app.pipeline.redisTarget, 'isw-ko-backfill');
      const bar = createBackfillProgressBar();
      try {
        const result = await runBackfill({
          settings,
          since,
          dryRun: opts.dryRun === true,
          policy: senderPolicyFrom(env),
          redis,
          prefix: env.REDIS_PREFIX,
          logger: app.logger,
          ...optionalToken(
            accessTokenProviderFor(settings, { logger: app.logger, redis, prefix: env.REDIS_PREFIX }),
          ),
          deliver: async (raw, ref) => {
            await app.pipeline.enqueueEmail(raw, { kind: 'imap', ref });
          },
          onProgress: bar.update,
          ...(opts.mailbox === undefined ? {} : { mailbox: opts.mailbox }),
        });
        bar.stop();
        ctx.write(
          `${result.dryRun ? 'dry run: would queue' : 'queued'} ${result.enqueued} of ${result.total} messages in ${result.mailbox} ` +
            `(${result.skipped} already queued, ${result.held} held, ${result.ignored} ignored, ${result.deferred} deferred) ` +
            `in ${(result.elapsedMs / 1000).toFixed(1)} s, ${result.perSecond.toFixed(1)} msg/s\n`,
        );
      } finally {
        bar.stop();
        await redis.quit();
        await app.close();
      }
    });

  const quarantine = program
    .command('quarantine')
    .description('mail held because it failed sender authentication');
  quarantine
    .command('list')
    .description('held messages, newest first, with the verdict')
    .action(async () => {
      await withQuarantine(ctx, async (q) => {
        const held = await q.list(200);
        if (held.length === 0) ctx.write('no held mail\n');
        for (const m of held) {
          ctx.write(
            `${m.id}  ${m.heldAt}  ${m.code}  from ${m.from ?? '?'}  "${m.subject ?? ''}"${m.releasedAt === null ? '' : `  (released ${m.releasedAt} by ${m.releasedBy ?? '?'})`}\n    ${m.reason}\n    ${m.auth}\n`,
          );
        }
      });
    });
  quarantine
    .command('release')
    .description('post a held message after all (it is queued like any other mail)')
    .argument('<id...>', 'ids from `quarantine list`')
    .action(async (ids: string[]) => {
      await withQuarantine(ctx, async (q) => {
        for (const id of ids) {
          const m = await q.release(id, 'cli');
          ctx.write(`released ${m.id} (${m.subject ?? 'no subject'}): queued\n`);
        }
      });
    });
}

async function withQuarantine(ctx: InboxCommandContext, fn: (q: Quarantine) => Promise<void>): Promise<void> {
  const app = await ctx.open();
  const redis = createRedis(app.pipeline.redisTarget, 'isw-ko-quarantine');
  try {
    const q = new Quarantine({
      redis,
      prefix: app.env.REDIS_PREFIX,
      logger: app.logger.child({ stage: 'inbox' }),
      deliver: async (raw, ref) => {
        await app.pipeline.enqueueEmail(raw, { kind: 'imap', ref });
      },
    });
    await fn(q);
  } finally {
    await redis.quit();
    await app.close();
  }
}

/** `{ accessToken }` when there is a provider, else nothing (exactOptionalPropertyTypes). */
function optionalToken(accessToken: AccessTokenProvider | undefined): { accessToken?: AccessTokenProvider } {
  return accessToken === undefined ? {} : { accessToken };
}
