import { Command, CommanderError } from 'commander';
import { configTableMarkdown, describeEnv, loadEnv, type Env } from '../config/index.js';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../shared/paths.js';
import { constants as osConstants } from 'node:os';
import { AppError } from '../shared/app-error.js';
import { describeFileError, errnoOf, errnoText } from '../shared/fs-errors.js';
import type { Logger } from '../shared/logger.js';
import { ensureListenFree, startHttp } from './admin-context.js';
import { startApp, WORKER_NAMES, type WorkerName } from './app.js';
import { formatDoctor, runDoctor } from './doctor.js';
import { parseOptionsFrom } from './context.js';
import { registerDigestCommands } from './digest.js';
import { registerInboxCommands } from './inbox-commands.js';
import { registerSubscriberCommands } from './subscribers.js';
import { registerJobCommands } from './jobs.js';
import { previewCommand } from './preview.js';

/** Build the `isw-ko` command line. Commands stay thin: parse arguments, call a stage, print. */
export function buildProgram(env: () => Env): Command {
  const program = new Command('isw-ko')
    .description('ISW newsletter emails → Korean board posts and digests')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('preview')
    .description('parse an .eml file and print the report (JSON, or readable text with --text)')
    .argument('<file>', 'an RFC 5322 email file (.eml)')
    .option('--text', 'print readable text instead of JSON')
    .action(async (file: string, opts: { text?: boolean }) => {
      process.stdout.write(`${await previewCommand(file, opts, parseOptionsFrom(env()))}\n`);
    });

  program
    .command('config')
    .description(
      'print the effective configuration (secrets hidden), or with --markdown the table of all settings',
    )
    .option('--markdown', 'print the README configuration table')
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown === true) {
        process.stdout.write(`${configTableMarkdown()}\n`);
        return;
      }
      for (const row of describeEnv(env())) process.stdout.write(`${row.variable.padEnd(28)} ${row.value}\n`);
    });

  program
    .command('run')
    .description(
      'run everything in one process: inbox, all workers, the admin/public HTTP server on ADMIN_LISTEN (embedded Redis when REDIS_URL is unset)',
    )
    .action(async () => {
      await ensureListenFree(env());
      const app = await startApp(env(), { workers: WORKER_NAMES, inbox: true, handlesSignals: true });
      const http = await startHttp(app, 'full').catch(async (err: unknown) => {
        await app.close();
        throw err;
      });
      await untilSignal(app.logger);
      // HTTP first (no new admin actions while the workers drain), then workers, queues, inbox, Redis.
      await closeAll(app.logger, [() => http.close(), () => app.close()]);
    });

  program
    .command('worker')
    .description('run workers for some stages only, e.g. on another machine sharing one Redis')
    .option('--queues <names>', `comma-separated stages (${WORKER_NAMES.join(', ')})`, WORKER_NAMES.join(','))
    .option(
      '--listen <host:port>',
      'serve /healthz, /readyz and /metrics here (no admin pages), e.g. 0.0.0.0:8787',
    )
    .action(async (opts: { queues: string; listen?: string }) => {
      if (opts.listen !== undefined) await ensureListenFree(env(), opts.listen);
      const app = await startApp(env(), {
        workers: parseQueues(opts.queues),
        inbox: false,
        handlesSignals: true,
      });
      const http =
        opts.listen === undefined
          ? null
          : await startHttp(app, 'ops', opts.listen).catch(async (err: unknown) => {
              await app.close();
              throw err;
            });
      await untilSignal(app.logger);
      await closeAll(app.logger, [async () => http?.close(), () => app.close()]);
    });

  program
    .command('ingest')
    .description('queue .eml files by hand (the same email twice is processed once)')
    .argument('<files...>', 'RFC 5322 email files')
    .action(async (files: string[]) => {
      const app = await startApp(env(), { workers: [], inbox: false });
      let rejected = 0;
      try {
        for (const file of files) {
          // A path that is not a readable file is reported and skipped; the other files still go.
          const raw = await readFile(file).catch((err: unknown) => {
            const code = errnoOf(err);
            process.stdout.write(
              `${file}: not read: ${code === undefined ? String(err) : errnoText(code)}\n`,
            );
            return null;
          });
          if (raw === null) {
            rejected += 1;
            continue;
          }
          const queued = await app.pipeline.enqueueEmail(raw, { kind: 'cli', ref: file });
          if (queued.rejected !== null) {
            rejected += 1;
            process.stdout.write(
              `${file}: rejected: ${queued.rejected.code}: ${queued.rejected.describe()}\n`,
            );
          } else {
            process.stdout.write(`${file}: queued as ${queued.jobId ?? '?'} (email ${queued.emailId})\n`);
          }
        }
      } finally {
        await app.close();
      }
      if (rejected > 0) process.exitCode = 1;
    });

  program
    .command('doctor')
    .description('check every configured part and say what to fix; exits non-zero on any failure')
    .action(async () => {
      const results = await runDoctor(env());
      process.stdout.write(`${formatDoctor(results)}\n`);
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });

  // `jobs`, `jobs list`, `jobs retry`, `reprocess`: a producer-only app per command.
  registerJobCommands(program, {
    open: () => startApp(env(), { workers: [], inbox: false }),
    write: (text) => process.stdout.write(text),
  });

  registerSubscriberCommands(program, { env, write: (text) => process.stdout.write(text) });
  registerDigestCommands(program, { env, write: (text) => process.stdout.write(text) });
  registerInboxCommands(program, {
    env,
    open: () => startApp(env(), { workers: [], inbox: false }),
    write: (text) => process.stdout.write(text),
  });

  return program;
}

function parseQueues(list: string): WorkerName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const bad = names.filter((n) => !(WORKER_NAMES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) {
    throw new AppError('BAD_QUEUES', 'user', `unknown queue name(s): ${bad.join(', ') || '(none given)'}`, {
      hint: `use a comma-separated list of ${WORKER_NAMES.join(', ')}`,
    });
  }
  return names as WorkerName[];
}

/** The version in package.json, with the Node.js version it runs on. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return `isw-ko ${typeof pkg.version === 'string' ? pkg.version : '?'} (Node.js ${process.versions.node})`;
}

/** Run every shutdown step in order, even when one fails (it is logged). */
async function closeAll(logger: Logger, steps: readonly (() => Promise<unknown>)[]): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.warn({ err }, 'error during shutdown; continuing');
    }
  }
}

/**
 * Resolve on the first SIGINT, SIGTERM or SIGHUP (a closed terminal): the caller then shuts down
 * gracefully. A second signal a moment later exits at once (the usual "press Ctrl-C again"): jobs
 * still running are taken up again by a worker once their lock lapses, and `exit` hooks still stop
 * an embedded redis-server. One Ctrl-C under `npm start` arrives twice (from the terminal, and forwarded by
 * npm), so a repeat within {@link REPEATED_SIGNAL_MS} is the same press, not a second one.
 */
function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let firstAt: number | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (firstAt === null) {
        firstAt = Date.now();
        logger.info({ signal }, 'shutting down: finishing current jobs (a second Ctrl-C exits at once)');
        resolve();
        return;
      }
      if (Date.now() - firstAt < REPEATED_SIGNAL_MS) {
        logger.debug({ signal }, 'the same signal again (npm forwards it too); already shutting down');
        return;
      }
      logger.warn(
        { signal },
        'second signal: exiting now; jobs still running stay "active" until their lock lapses (JOB_LOCK_MS: by default twice LLM_TIMEOUT_MS plus 30 s), then a running worker starts them again; `isw-ko jobs list --state active` shows them',
      );
      process.exit(128 + osConstants.signals[signal]);
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  });
}

const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const REPEATED_SIGNAL_MS = 1000;

/** Run the CLI; turns every known error into one clear line and an exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let cached: Env | undefined;
  const env = (): Env => (cached ??= loadEnv());
  try {
    await buildProgram(env).parseAsync([...argv]);
    // A command that fails without an error to throw (doctor's FAIL lines) sets process.exitCode;
    // bin.ts assigns what we return to it, so return it rather than overwrite it with 0.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof AppError) {
      process.stderr.write(`isw-ko: ${err.name} ${err.code}: ${err.describe()}\n`);
      return 1;
    }
    // A folder the bot cannot write (wrong owner, read-only, full) is a setup problem, not a bug.
    const fileProblem = describeFileError(err);
    if (fileProblem !== null) {
      process.stderr.write(`isw-ko: ${fileProblem}\n`);
      return 1;
    }
    process.stderr.write(
      `isw-ko: unexpected error (a bug — please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 70;
  }
}
