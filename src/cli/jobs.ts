import type { Queue } from 'bullmq';
import { Option, type Command } from 'commander';
import { AdminError } from '../admin/admin-error.js';
import {
  holdReport,
  jobCounts,
  lockHint,
  LISTABLE_STATES,
  listJobs,
  oneOf,
  REPROCESS_STAGES,
  releaseReport,
  reprocess,
  retryAllFailed,
  retryJob,
  type JobRow,
  type ListableState,
  type NotifyReprocess,
  type ReprocessStage,
} from '../admin/operations.js';
import { ageShort, durationShort } from '../admin/views.js';
import { QUEUE_NAMES } from '../queue/names.js';
import { NOTIFY_QUEUE_NAMES } from '../queue/notify-worker.js';
import type { Pipeline } from '../queue/pipeline.js';

/** What the job commands need of a running app (`App` from `startApp` fits). */
export interface JobsApp {
  readonly pipeline: Pipeline;
  /** Re-send a report's email (`reprocess --from notify`); absent when notify is not wired in. */
  readonly renotify?: NotifyReprocess;
  /** The notify stage's queues: their jobs are listed and retried with the stages'. */
  readonly notify?: { readonly fanOutQueue: Queue; readonly sendQueue: Queue };
  close(): Promise<void>;
}

export interface JobsContext {
  /** Open the pipeline without workers (the commands only add and move jobs); closed after each command. */
  open(): Promise<JobsApp>;
  /** Where output goes (stdout in the CLI). */
  write(text: string): void;
  readonly clock?: () => number;
}

/**
 * Add the admin's job commands to the program:
 * - `jobs`: counts per queue and state;
 * - `jobs list [--state failed] [--queue summarize]`: each job's report title, attempts, last error or
 *   why it waits, and its last activity (when a delayed job runs; whether a running job's worker is gone);
 * - `jobs retry <id…>` / `jobs retry --all [--queue summarize]`: failed jobs again, with fresh attempts;
 *   a delayed job given by id runs now;
 * - `reprocess <report-id> [--from summarize|publish|notify]`: a report again from a stage, editing its
 *   existing board post;
 * - `hold <report-id…> [--reason …]`, `hold --list`, `unhold <report-id…>`: keep a report off the
 *   boards (and so out of the subscribers' mail) until an admin releases it.
 */
export function registerJobCommands(program: Command, ctx: JobsContext): void {
  const clock = ctx.clock ?? Date.now;
  const withApp = async (fn: (app: JobsApp) => Promise<void>): Promise<void> => {
    const app = await ctx.open();
    try {
      await fn(app);
    } finally {
      await app.close();
    }
  };
  const queueOption = (): Option =>
    new Option('--queue <name>', 'only this queue').choices([
      ...QUEUE_NAMES,
      NOTIFY_QUEUE_NAMES.fanOut,
      NOTIFY_QUEUE_NAMES.send,
    ]);
  const notifyQueues = (app: JobsApp): Queue[] =>
    app.notify === undefined ? [] : [app.notify.fanOutQueue, app.notify.sendQueue];

  const jobs = program
    .command('jobs')
    .description('job counts per queue and state; `jobs list` and `jobs retry` for the jobs themselves')
    .action(() =>
      withApp(async (app) => {
        const counts = await jobCounts(app.pipeline, notifyQueues(app));
        for (const [queue, byState] of Object.entries(counts)) {
          const cells = Object.entries(byState).map(([state, n]) => `${state} ${n}`);
          ctx.write(`${queue.padEnd(12)} ${cells.join('  ')}\n`);
        }
      }),
    );

  jobs
    .command('list')
    .description(
      "list jobs in a state with each one's report title, attempts, last error or why it waits, and last activity",
    )
    .addOption(new Option('--state <state>', 'job state').choices([...LISTABLE_STATES]).default('failed'))
    .addOption(queueOption())
    .option('--limit <n>', 'at most this many jobs', '50')
    .action((opts: { state: string; queue?: string; limit: string }) =>
      withApp(async (app) => {
        const state = oneOf('state', opts.state, LISTABLE_STATES);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) {
          throw new AdminError('BAD_ARGUMENT', `--limit must be a whole number above 0, not "${opts.limit}"`);
        }
        const rows = await listJobs(app.pipeline, {
          state,
          limit,
          extraQueues: notifyQueues(app),
          ...(opts.queue === undefined ? {} : { queue: opts.queue }),
        });
        ctx.write(formatJobRows(rows, state, clock()));
      }),
    );

  jobs
    .command('retry')
    .description(
      'retry failed jobs by id (attempts start again; a delayed job runs now), or every failed job with --all',
    )
    .argument('[ids...]', 'job ids from `isw-ko jobs list`')
    .option('--all', 'every failed job (of --queue, or of every queue)')
    .addOption(queueOption())
    .action((ids: string[], opts: { all?: boolean; queue?: string }) =>
      withApp(async (app) => {
        const queue = opts.queue;
        if (opts.all === true) {
          if (ids.length > 0) throw new AdminError('BAD_ARGUMENT', 'give job ids or --all, not both');
          const n = await retryAllFailed(app.pipeline, queue, notifyQueues(app));
          ctx.write(
            `retried ${n} failed job${n === 1 ? '' : 's'}${queue === undefined ? '' : ` in ${queue}`}\n`,
          );
          return;
        }
        if (ids.length === 0) {
          throw new AdminError('BAD_ARGUMENT', 'no job ids given', {
            hint: 'list failed jobs with `isw-ko jobs list`, or retry them all with `isw-ko jobs retry --all`',
          });
        }
        const failures: string[] = [];
        let firstCode: AdminError['code'] | null = null;
        for (const id of ids) {
          try {
            const done = await retryJob(app.pipeline, id, queue, notifyQueues(app));
            ctx.write(
              `${done.queue}/${done.id}: ${done.action === 'promoted' ? 'was delayed; runs now' : 'queued again'}\n`,
            );
          } catch (err) {
            if (!(err instanceof AdminError)) throw err;
            // Go on with the other ids; the command still fails at the end.
            failures.push(id);
            firstCode ??= err.code;
            ctx.write(`${id}: ${err.describe()}\n`);
          }
        }
        if (failures.length > 0) {
          throw new AdminError(
            firstCode ?? 'JOB_NOT_FOUND',
            `${failures.length} of ${ids.length} job(s) could not be retried: ${failures.join(', ')}`,
          );
        }
      }),
    );

  program
    .command('reprocess')
    .description('run a report again from a stage (after a prompt or model change); edits its existing post')
    .argument('<report-id>', 'the report id (admin reports page, `isw-ko jobs list`)')
    .addOption(
      new Option('--from <stage>', 'first stage to run again')
        .choices([...REPROCESS_STAGES])
        .default('summarize'),
    )
    .action((reportId: string, opts: { from: string }) =>
      withApp(async (app) => {
        const from: ReprocessStage = oneOf('stage', opts.from, REPROCESS_STAGES);
        const done = await reprocess(
          app.pipeline,
          reportId,
          from,
          app.renotify === undefined ? {} : { notify: app.renotify },
        );
        for (const line of done.lines) ctx.write(`${reportId}: ${line}\n`);
      }),
    );

  program
    .command('hold')
    .description('keep reports off the boards (and out of the mail) until `isw-ko unhold`; --list shows them')
    .argument('[report-ids...]', 'report ids (admin reports page, `isw-ko jobs list`)')
    .option('--reason <text>', 'why, for the other admins', '')
    .option('--list', 'list the held reports')
    .action((ids: string[], opts: { reason: string; list?: boolean }) =>
      withApp(async ({ pipeline }) => {
        if (opts.list === true) {
          if (ids.length > 0) throw new AdminError('BAD_ARGUMENT', 'give report ids or --list, not both');
          const holds = await pipeline.holds.list();
          if (holds.length === 0) ctx.write('no held reports\n');
          for (const h of holds) {
            const title = (await pipeline.store.getReport(h.reportId))?.report.title ?? '(not in the store)';
            const why = h.reason === '' ? '' : `\n    reason: ${oneLine(h.reason)}`;
            ctx.write(
              `${h.reportId}  held by ${h.by}, ${ageShort(clock() - Date.parse(h.at))} ago  ${title}${why}\n`,
            );
          }
          return;
        }
        if (ids.length === 0) {
          throw new AdminError('BAD_ARGUMENT', 'no report ids given', {
            hint: 'give the ids of the reports to hold, or --list to see the held ones',
          });
        }
        for (const id of ids)
          ctx.write(`${id}: ${await holdReport(pipeline, id, { by: 'cli', reason: opts.reason })}\n`);
      }),
    );

  program
    .command('unhold')
    .description('release held reports: what the hold stopped is posted (and mailed) now')
    .argument('<report-ids...>', 'report ids from `isw-ko hold --list`')
    .action((ids: string[]) =>
      withApp(async ({ pipeline }) => {
        for (const id of ids)
          for (const line of await releaseReport(pipeline, id)) ctx.write(`${id}: ${line}\n`);
      }),
    );
}

/**
 * `jobs list` output: a header line per job (attempts, last activity, title), then what else there
 * is to know, indented: its report, its last error, why it waits, whether its worker is gone.
 */
export function formatJobRows(rows: readonly JobRow[], state: ListableState, now: number): string {
  if (rows.length === 0) return `no ${state} jobs\n`;
  return rows
    .map((r) => {
      const attempts = `attempts ${r.attemptsMade}/${r.attempts}${r.gaveUp ? ' (failed for good: no more retries)' : ''}`;
      const head = `${r.queue}/${r.id}  ${attempts}  ${lastActivity(r, now)}  ${r.title}`;
      const report = r.reportId === null ? '' : `\n    report: ${r.reportId}`;
      const error = r.lastError === null ? '' : `\n    last error: ${oneLine(r.lastError)}`;
      const waits =
        r.waitReason === null || r.waitReason === r.lastError
          ? ''
          : `\n    waiting: ${oneLine(r.waitReason)}`;
      const gone =
        r.holder === 'gone' ? `\n    worker gone (stopped or killed): ${lockHint(r.lockTtlMs)}` : '';
      return `${head}${report}${error}${waits}${gone}\n`;
    })
    .join('');
}

/** What happened to a job last, and when it runs next if it waits: a retry clears BullMQ's times. */
function lastActivity(r: JobRow, now: number): string {
  const next =
    r.runAt === null ? '' : r.runAt <= now ? ', runs now' : `, runs in ${durationShort(r.runAt - now)}`;
  if (r.finishedAt !== null) return `finished ${ageShort(now - r.finishedAt)} ago${next}`;
  if (r.startedAt !== null)
    return `${r.state === 'active' ? 'started' : 'last tried'} ${ageShort(now - r.startedAt)} ago${next}`;
  return `added ${ageShort(now - r.createdAt)} ago${next}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
