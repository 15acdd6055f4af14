import { readFile, writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Env } from '../config/index.js';
import { DELIVERY_MODES, type DeliveryMode } from '../notify/digest.js';
import {
  SUBSCRIBER_STATUSES,
  SubscriberStore,
  type ImportReport,
  type Subscriber,
  type SubscriberStatus,
} from '../notify/subscribers.js';
import { createRedis, type RedisTarget } from '../queue/connection.js';
import { AppError } from '../shared/app-error.js';
import type { Logger } from '../shared/logger.js';
import { connectRedis, loggerFor } from './app.js';

/** Redis for one command. */
export interface NotifyCliConnection {
  readonly redis: Redis;
  readonly target: RedisTarget;
  /** Quit the connection (and stop an embedded redis-server this command started). */
  close(): Promise<void>;
}

/** What the subscriber and digest commands need from the CLI. */
export interface NotifyCliContext {
  readonly env: () => Env;
  /** Where output goes (stdout in the CLI). */
  write(text: string): void;
  /** Default: REDIS_URL, or the embedded redis-server under DATA_DIR (see {@link openNotifyConnection}). */
  readonly open?: () => Promise<NotifyCliConnection>;
  readonly logger?: () => Logger;
  readonly clock?: () => number;
}

/**
 * Redis as configured, for a command that runs and exits: REDIS_URL, or the embedded redis-server
 * (reused when `isw-ko run` is up, else started for the command and stopped after it).
 */
export async function openNotifyConnection(env: Env, logger: Logger): Promise<NotifyCliConnection> {
  const { target, embedded } = await connectRedis(env, logger);
  const redis = createRedis(target, 'isw-ko-cli');
  redis.on('error', (err) => {
    logger.warn({ err: err.message }, 'redis connection error; reconnecting');
  });
  return {
    redis,
    target,
    close: async () => {
      await redis.quit();
      await embedded?.stop();
    },
  };
}

/** Run `fn` with a connection, closed afterwards whatever happens. */
export async function withConnection<T>(
  ctx: NotifyCliContext,
  fn: (c: NotifyCliConnection) => Promise<T>,
): Promise<T> {
  const connection = await (
    ctx.open ?? (() => openNotifyConnection(ctx.env(), (ctx.logger ?? (() => loggerFor(ctx.env(), true)))()))
  )();
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

const modeOption = (description: string): Option =>
  new Option('--mode <mode>', description).choices([...DELIVERY_MODES]);

/** "1 row", "2 rows". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** One line per import problem, then the counts. */
export function formatImportReport(file: string, report: ImportReport, dryRun: boolean): string {
  const lines = [
    `${file}: ${count(report.rows, 'row')} (${report.encoding === 'cp949' ? 'read as CP949 (Korean Excel)' : 'UTF-8'})${dryRun ? ' — dry run, nothing written' : ''}`,
    `  added ${report.added}, updated ${report.updated}, unchanged ${report.unchanged}, rejected ${report.rejected.length}`,
    ...report.rejected.map(
      (r) => `  line ${r.line}: ${r.address === '' ? '(empty)' : r.address} — ${r.reason}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The error that makes `subscribers import` exit non-zero when any row was rejected, so a script
 * notices; the good rows are imported all the same (and the report says which were not).
 */
export function importRejectedError(report: ImportReport, dryRun: boolean): AppError | null {
  const rejected = report.rejected.length;
  if (rejected === 0) return null;
  const others = report.rows - rejected;
  return new AppError(
    'IMPORT_ROWS_REJECTED',
    'user',
    `${rejected} of ${count(report.rows, 'row')} rejected (listed above); ${
      dryRun
        ? `the other ${count(others, 'row')} would be imported (dry run, nothing written)`
        : `the other ${count(others, 'row')} ${others === 1 ? 'was' : 'were'} imported`
    }`,
    {
      hint: 'fix the rejected rows (or remove them) and import the file again: the rows already imported then count as unchanged',
      details: { rejected, rows: report.rows },
    },
  );
}

/** A subscriber as one line of `subscribers list`. */
export function formatSubscriber(s: Subscriber): string {
  const bounce = s.bounceCount > 0 ? `  bounces ${s.bounceCount}: ${s.lastBounceReason ?? ''}` : '';
  const name = s.name === null ? '' : ` (${s.name})`;
  const request =
    s.resubscribe === null
      ? ''
      : `  asked on the web ${s.resubscribe.requestedAt.slice(0, 10)} to get ${s.resubscribe.mode} again; not confirmed yet`;
  return `${s.status.padEnd(12)} ${s.mode.padEnd(9)} ${s.address}${name}  since ${s.createdAt.slice(0, 10)}${bounce}${request}`;
}

/**
 * Add the subscriber commands to the program:
 * - `subscribers add <address> [--name] [--mode] [--force]`: add someone who agreed to get email, or
 *   update one (an option left out keeps its stored value);
 * - `subscribers remove <address> [--purge]`: unsubscribe (kept so an import cannot re-add them), or
 *   with `--purge` erase the record;
 * - `subscribers list [--status] [--mode] [--json]`;
 * - `subscribers import <file.csv> [--mode] [--force] [--dry-run]`: reports added, updated and
 *   rejected rows and why, and fails (exit code 1) when any row was rejected;
 * - `subscribers export [--out file]`: CSV (UTF-8) of everyone, unsubscribes included.
 */
export function registerSubscriberCommands(program: Command, ctx: NotifyCliContext): void {
  const store = (c: NotifyCliConnection): SubscriberStore =>
    new SubscriberStore(c.redis, ctx.env().REDIS_PREFIX, ctx.clock ?? Date.now);

  const subscribers = program
    .command('subscribers')
    .description('the people who get the Korean digests: add, remove, list, import, export');

  subscribers
    .command('add')
    .description('add (or update) a subscriber who agreed to get email; active at once, no confirmation mail')
    .argument('<address>', 'their email address')
    .option('--name <name>', 'their name, shown in the To: header (left out: an existing name is kept)')
    .addOption(
      modeOption(
        'immediate: one email per report; daily: one digest a day (left out: daily for a new subscriber, an existing one keeps theirs)',
      ),
    )
    .option('--force', 'also re-add someone who unsubscribed or bounced (only if they asked you to)')
    .action((address: string, opts: { name?: string; mode?: DeliveryMode; force?: boolean }) =>
      withConnection(ctx, async (c) => {
        const { subscriber, outcome } = await store(c).add({
          address,
          ...(opts.name === undefined ? {} : { name: opts.name }),
          ...(opts.mode === undefined ? {} : { mode: opts.mode }),
          source: 'cli',
          force: opts.force === true,
        });
        ctx.write(`${outcome}: ${formatSubscriber(subscriber)}\n`);
      }),
    );

  subscribers
    .command('remove')
    .description('stop mailing a subscriber (kept as unsubscribed so an import cannot add them back)')
    .argument('<address>', 'their email address')
    .option('--purge', 'erase the record instead (a request to delete their data)')
    .action((address: string, opts: { purge?: boolean }) =>
      withConnection(ctx, async (c) => {
        const s = store(c);
        const subscriber = await s.getByAddress(address);
        if (subscriber === null) {
          ctx.write(`${address}: not a subscriber; nothing to do\n`);
          return;
        }
        if (opts.purge === true) {
          await s.purge(subscriber.id);
          ctx.write(`${subscriber.address}: erased\n`);
          return;
        }
        const { changed } = await s.unsubscribe(subscriber.id, 'cli');
        ctx.write(`${subscriber.address}: ${changed ? 'unsubscribed' : 'was already unsubscribed'}\n`);
      }),
    );

  subscribers
    .command('list')
    .description('every subscriber, oldest first')
    .addOption(new Option('--status <status>', 'only this status').choices([...SUBSCRIBER_STATUSES]))
    .addOption(modeOption('only this mode'))
    .option('--json', 'one JSON object per line')
    .action((opts: { status?: SubscriberStatus; mode?: DeliveryMode; json?: boolean }) =>
      withConnection(ctx, async (c) => {
        const s = store(c);
        let n = 0;
        for await (const subscriber of s.iterate({
          ...(opts.status === undefined ? {} : { status: opts.status }),
          ...(opts.mode === undefined ? {} : { mode: opts.mode }),
        })) {
          ctx.write(`${opts.json === true ? JSON.stringify(subscriber) : formatSubscriber(subscriber)}\n`);
          n += 1;
        }
        if (opts.json !== true) {
          const counts = await s.counts();
          ctx.write(
            `${n} listed; ${counts.total} in all, active: ${counts.activeImmediate} immediate, ${counts.activeDaily} daily\n`,
          );
        }
      }),
    );

  subscribers
    .command('import')
    .description(
      'add or update subscribers from a CSV file (address/email, name, mode, status columns); exits 1 if any row was rejected (the others are imported)',
    )
    .argument('<file>', 'a CSV file, UTF-8 or CP949 (Korean Excel)')
    .addOption(
      modeOption('mode of new subscribers in rows without one (existing ones keep theirs)').default('daily'),
    )
    .option('--force', 're-activate people who unsubscribed or bounced (only with their consent)')
    .option('--dry-run', 'check and report, write nothing')
    .action((file: string, opts: { mode: DeliveryMode; force?: boolean; dryRun?: boolean }) =>
      withConnection(ctx, async (c) => {
        const report = await store(c).importCsv(await readFile(file), {
          defaultMode: opts.mode,
          force: opts.force === true,
          dryRun: opts.dryRun === true,
        });
        ctx.write(formatImportReport(file, report, opts.dryRun === true));
        const rejected = importRejectedError(report, opts.dryRun === true);
        if (rejected !== null) throw rejected;
      }),
    );

  subscribers
    .command('export')
    .description('every subscriber as CSV (UTF-8), unsubscribed and bounced ones included')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((opts: { out?: string }) =>
      withConnection(ctx, async (c) => {
        let csv = '';
        for await (const chunk of store(c).exportCsv()) {
          if (opts.out === undefined) ctx.write(chunk);
          else csv += chunk;
        }
        if (opts.out !== undefined) {
          await writeFile(opts.out, csv, 'utf8');
          ctx.write(`written to ${opts.out}\n`);
        }
      }),
    );
}
