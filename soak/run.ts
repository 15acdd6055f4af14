// `npm run soak -- --emails 300 --subscribers 200 --minutes 10`: the bot under faults, reconciled.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import { freePort } from '../src/shared/redis-server.js';
import { startTestDovecot, type TestDovecot } from '../tests/support/dovecot.js';
import { startLlmServer, type LlmServer } from '../tests/support/llm-server.js';
import { OTHER_MEMBER, RhymixTestServer, type TestMember } from '../tests/support/rhymix-server.js';
import {
  buildCorpus,
  PARSE_LIMIT_BYTES,
  TRUSTED_AUTHSERV,
  TRUSTED_FORWARDERS,
  type Corpus,
} from './corpus.js';
import { FAULT_KINDS, injectFault, planFaults, type FaultKind, type FaultRecord } from './faults.js';
import { notifyWired, startNotifySection, type NotifySection } from './notify.js';
import {
  fileBoardIndex,
  fileBoardPosts,
  pendingJobs,
  readLogs,
  rhymixPosts,
  storeFacts,
  watcherPosition,
} from './observe.js';
import {
  BotProcess,
  MemoryPeaks,
  memoryOf,
  RestartableRedis,
  runCommand,
  type UnexpectedExit,
} from './processes.js';
import { Random } from './random.js';
import { reconcile, type Secret } from './reconcile.js';
import { formatSummary } from './report.js';

/**
 * The soak run (issue #8). Everything real on loopback — redis-server (AOF), Dovecot, the
 * OpenAI-compatible test LLM, the Rhymix-protocol test board and the local file board (and, once
 * the pipeline runs the notify stage, the test SMTP server with subscribers) — and the bot as
 * three separate processes: `isw-ko run` (inbox, all workers, admin HTTP) and two `isw-ko worker`s.
 *
 * 1. Emails from {@link buildCorpus} are APPENDed to the IMAP mailbox over the first 80 % of the
 *    run, at seeded moments.
 * 2. Faults from {@link planFaults} run one after another over the first 80 %: every kind at least
 *    once (SIGKILL of a bot process, Redis and Dovecot restarts, LLM 429/5xx/timeouts/invalid
 *    JSON, board 5xx, SMTP 4xx with notify).
 * 3. Wait until the watcher has read every appended message and the queues are empty, run
 *    `isw-ko jobs retry --all` once (for what failed on purpose: the malformed emails' ingest
 *    jobs, which must fail again with the same reason, and any job whose attempts a fault used
 *    up), wait again.
 * 4. Stop the bot, read back the boards, the store, the quarantine, BullMQ and the logs,
 *    {@link reconcile}, print the table; exit 1 on any duplicate, loss, leak, crash or a queue
 *    that did not drain.
 *
 * Sender authentication is `SENDER_VERIFY=trust-header` with `SENDER_TRUSTED_AUTHSERV` set to the
 * authserv-id the fixtures' Authentication-Results carry (`mx1.example.com`): genuine mail and
 * trusted forwards carry a passing result from it, spoofed mail none, a failing one, or one from
 * another server.
 *
 * Randomness comes from `--seed` only: the same seed gives the same corpus, arrival order, fault
 * plan and fault parameters (what the processes make of them still depends on timing).
 */
interface SoakOptions {
  readonly emails: number;
  readonly subscribers: number;
  readonly minutes: number;
  readonly seed: number;
  readonly notify: 'auto' | 'on' | 'off';
  readonly keep: boolean;
  readonly logLevel: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function secret(prefix: string, bytes = 18): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** The pid of the Dovecot master of this instance (its command line names the instance's config). */
function dovecotPid(dovecot: TestDovecot): number | null {
  const conf = path.join(dovecot.dir, 'dovecot.conf');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(conf)) return Number(entry);
    } catch {
      // the process ended while we looked: not the one we want
    }
  }
  return null;
}

async function soak(options: SoakOptions): Promise<number> {
  const started = Date.now();
  const runMs = options.minutes * 60_000;
  const root = new Random(options.seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-soak-'));
  const say = (line: string): void => {
    process.stdout.write(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  };
  const useNotify = options.notify === 'on' || (options.notify === 'auto' && notifyWired());
  if (options.notify === 'on' && !notifyWired()) {
    throw new Error('--notify on, but the bot does not run the notify stage yet (src/cli/app.ts)');
  }
  say(
    `run directory ${dir}; notify ${useNotify ? 'on' : 'off (the pipeline does not run the notify stage yet)'}`,
  );

  const cleanups: (() => Promise<unknown>)[] = [];
  const crashes: UnexpectedExit[] = [];
  const faults: FaultRecord[] = [];
  const bots: BotProcess[] = [];
  let shuttingDown = false;
  let exitCode = 1;
  // Bots first (they finish or release their jobs), then the services, newest first. Runs once,
  // from the end of the run or from Ctrl-C (Dovecot runs in its own process group and would
  // otherwise outlive an interrupted soak).
  let tearingDown: Promise<void> | null = null;
  const tearDown = (): Promise<void> =>
    (tearingDown ??= (async () => {
      shuttingDown = true;
      for (const bot of bots) {
        try {
          await bot.stop(5_000);
        } catch (err) {
          process.stderr.write(`soak: stopping ${bot.role}: ${String(err)}\n`);
        }
      }
      for (const cleanup of [...cleanups].reverse()) {
        try {
          await cleanup();
        } catch (err) {
          process.stderr.write(`soak: cleanup: ${String(err)}\n`);
        }
      }
    })());
  // `on`, not `once`: tsx passes a Ctrl-C on to this process too, and a second SIGINT without a
  // listener would end it before the teardown is done.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (tearingDown === null) say(`${signal}: stopping the bot and the services; logs kept in ${dir}`);
    void tearDown().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // ---- services -------------------------------------------------------------------------
    const redis = await RestartableRedis.start(
      path.join(dir, 'redis'),
      process.env.REDIS_SERVER_BIN ?? 'redis-server',
    );
    cleanups.push(() => redis.down());
    const dovecot = await startTestDovecot();
    cleanups.push(() => dovecot.close());
    const apiKey = secret('sk-soak-');
    const llm: LlmServer = await startLlmServer({ apiKey });
    cleanups.push(() => llm.close());
    const botMember: TestMember = {
      memberSrl: 4,
      userId: 'iswbot',
      password: secret('rx-'),
      nickName: 'ISW봇',
    };
    const board = await RhymixTestServer.start({ members: [botMember, OTHER_MEMBER] });
    cleanups.push(() => board.close());

    const prefix = `soak-${options.seed}-${randomBytes(3).toString('hex')}`;
    const observer = new Redis(redis.url, { maxRetriesPerRequest: null });
    observer.on('error', () => {
      // Redis restarts are injected on purpose; ioredis reconnects and commands wait.
    });
    cleanups.push(() => observer.quit());

    let notify: NotifySection | null = null;
    if (useNotify) {
      notify = await startNotifySection({
        count: options.subscribers,
        redisUrl: redis.url,
        prefix,
        dataDir: path.join(dir, 'data'),
        random: root.fork('subscribers'),
      });
      const section = notify;
      cleanups.push(() => section.close());
      await section.seed();
      say(`${options.subscribers} subscribers added; SMTP on ${section.smtp.url}`);
    }

    const secrets: Secret[] = [
      { name: 'OPENAI_API_KEY', value: apiKey },
      { name: 'IMAP_PASSWORD', value: dovecot.password },
      { name: 'RHYMIX_PASSWORD', value: botMember.password },
      { name: 'ADMIN_PASSWORD', value: secret('adm-', 9) },
      { name: 'ADMIN_TOKEN', value: secret('tok-', 20) },
      { name: 'ADMIN_SESSION_SECRET', value: secret('ses-', 20) },
      { name: 'TOKEN_SECRET', value: secret('lnk-', 20) },
    ];
    const vars: Record<string, string> = {
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      LOG_LEVEL: options.logLevel,
      DATA_DIR: path.join(dir, 'data'),
      BOARD_DIR: path.join(dir, 'board'),
      INBOX_DIR: path.join(dir, 'inbox'),
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      // Short locks so a SIGKILLed worker's jobs are taken over in seconds; still above two LLM
      // timeouts (a summary may need a repair call), as the job lock must be.
      JOB_LOCK_MS: '8000',
      JOB_STALLED_CHECK_MS: '1000',
      OPENAI_BASE_URL: llm.url,
      LLM_MODEL: 'test-model',
      LLM_TIMEOUT_MS: '3000',
      LLM_CONCURRENCY: '2',
      BOARD_RESOLVE_LINKS: 'false',
      PARSE_MAX_MESSAGE_BYTES: String(PARSE_LIMIT_BYTES),
      IMAP_HOST: dovecot.host,
      IMAP_PORT: String(dovecot.port),
      IMAP_TLS: 'none',
      IMAP_USER: dovecot.user,
      IMAP_MAILBOX: 'INBOX',
      IMAP_POLL_MS: '5000',
      SENDER_VERIFY: 'trust-header',
      SENDER_TRUSTED_AUTHSERV: TRUSTED_AUTHSERV,
      SENDER_TRUSTED_FORWARDERS: TRUSTED_FORWARDERS.map((f) => f.address).join(','),
      PUBLISH_TARGETS: 'file,rhymix',
      RHYMIX_URL: board.url,
      RHYMIX_MID: board.mid,
      RHYMIX_USER: botMember.userId,
      RHYMIX_CATEGORY: '우크라이나',
      RHYMIX_MIN_INTERVAL_MS: '20',
      RHYMIX_TIMEOUT_MS: '5000',
      ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
      ...Object.fromEntries(secrets.map((s) => [s.name, s.value])),
      ...(notify === null ? {} : notify.vars),
    };
    const targets = ['file', 'rhymix'];

    // ---- corpus and plans -----------------------------------------------------------------
    const corpus: Corpus = await buildCorpus(options.emails, options.seed, root.fork('corpus'));
    const feedEndMs = runMs * 0.8;
    const schedule = root.fork('arrivals');
    const arrivals = corpus.items.map(() => Math.floor(schedule.next() * feedEndMs)).sort((a, b) => a - b);
    const faultKinds: FaultKind[] = FAULT_KINDS.filter((k) => k !== 'smtp-4xx' || notify !== null);
    const plan = planFaults(root.fork('fault-plan'), {
      startMs: runMs * 0.05,
      endMs: runMs * 0.8,
      count: Math.max(faultKinds.length, Math.round(options.minutes * 3.5)),
      kinds: faultKinds,
    });
    say(
      `corpus: ${Object.entries(corpus.mix)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')}; ${plan.length} faults planned`,
    );

    // ---- the bot --------------------------------------------------------------------------
    const restartAfterCrash = (exit: UnexpectedExit): void => {
      crashes.push(exit);
      say(`${exit.role} exited by itself (code ${String(exit.code)}, signal ${String(exit.signal)})`);
      if (shuttingDown) return;
      const bot = bots.find((b) => b.role === exit.role);
      setTimeout(() => {
        if (!shuttingDown && bot !== undefined && !bot.running) {
          bot.start().catch((err: unknown) => {
            say(`could not restart ${exit.role}: ${String(err)}`);
          });
        }
      }, 2_000);
    };
    // `run` has the inbox and every worker; the two others share the stages (and the SIGKILLs).
    const notifyQueue = notify === null ? '' : ',notify';
    const botSpecs: [string, string[]][] = [
      ['run', ['run']],
      ['worker-a', ['worker', '--queues', `ingest,summarize,publish${notifyQueue}`]],
      ['worker-b', ['worker', '--queues', `summarize,publish${notifyQueue}`]],
    ];
    for (const [role, args] of botSpecs) {
      bots.push(new BotProcess({ role, args, env: vars, dir, onUnexpectedExit: restartAfterCrash }));
    }
    // One at a time: three tsx start-ups at once on 2 cores take longer than one after another.
    for (const bot of bots) await bot.start();
    say(`bot started: ${bots.map((b) => `${b.role} (pid ${String(b.pid)})`).join(', ')}`);

    const peaks = new MemoryPeaks();
    peaks.watch('soak (this process)', () => process.pid);
    for (const bot of bots) peaks.watch(`isw-ko ${bot.role}`, () => bot.pid);
    peaks.watch('redis-server', () => redis.pid);
    let dovecotMaster: number | null = null;
    peaks.watch('dovecot (master)', () => {
      if (dovecotMaster === null || memoryOf(dovecotMaster) === null) dovecotMaster = dovecotPid(dovecot);
      return dovecotMaster;
    });
    const sampler = setInterval(() => {
      peaks.sample();
    }, 1_000);
    cleanups.push(() => {
      clearInterval(sampler);
      return Promise.resolve();
    });

    // ---- feed, faults, daily digests ------------------------------------------------------
    const t0 = Date.now();
    const uids: number[] = [];
    let appended = 0;
    const feed = (async () => {
      for (const [i, item] of corpus.items.entries()) {
        const due = t0 + (arrivals[i] ?? 0);
        if (due > Date.now()) await sleep(due - Date.now());
        for (let attempt = 1; ; attempt += 1) {
          try {
            uids.push(await dovecot.append('INBOX', item.raw));
            appended += 1;
            break;
          } catch (err) {
            // Dovecot is being restarted: try again (a lost APPEND answer may store it twice,
            // which is one more duplicate by Message-ID and harmless).
            if (attempt > 120) throw err;
            await sleep(500);
          }
        }
        if ((i + 1) % 50 === 0) say(`${i + 1}/${corpus.items.length} emails appended`);
      }
      say(`all ${corpus.items.length} emails appended`);
    })();
    const faultRandom = root.fork('fault-params');
    // Kills rotate through every process in a seeded order: each is killed once before any twice.
    const victims = root.fork('victims').shuffle(bots);
    let killed = 0;
    const injecting = (async () => {
      for (const planned of plan) {
        const due = t0 + planned.atMs;
        if (due > Date.now()) await sleep(due - Date.now());
        const at = Date.now();
        const detail = await injectFault(planned.kind, faultRandom, {
          nextVictim: () => {
            const bot = victims[killed % victims.length] ?? bots[0];
            killed += 1;
            if (bot === undefined) throw new Error('no bot process to kill');
            return bot;
          },
          redis,
          dovecot,
          llm,
          board,
          smtp: notify?.smtp ?? null,
        });
        faults.push({ kind: planned.kind, atMs: at - t0, durationMs: Date.now() - at, detail });
        say(`fault ${planned.kind}: ${detail}`);
      }
    })();
    const dailies = (async () => {
      if (notify === null) return;
      // A daily digest a minute (digest ids are per minute): each covers what was published since the last.
      while (Date.now() - t0 < runMs * 0.8) {
        await sleep(61_000);
        say(`daily digest ${await notify.triggerDaily()} enqueued`);
      }
    })();
    await Promise.all([feed, injecting, dailies]);

    // ---- drain, retry, drain --------------------------------------------------------------
    const maxUid = (): number => uids.reduce((a, b) => Math.max(a, b), 0);
    const drained = async (): Promise<string | null> => {
      const position = await watcherPosition(observer, prefix);
      const uidValidity = await dovecot.uidValidity('INBOX');
      if (position.uidValidity !== uidValidity || position.lastUid < maxUid()) {
        return `inbox at UID ${position.lastUid} of ${maxUid()}`;
      }
      const pending = {
        ...(await pendingJobs(observer, prefix)),
        ...(notify === null ? {} : await notify.pending()),
      };
      const busy = Object.entries(pending).filter(([, n]) => n > 0);
      return busy.length === 0 ? null : busy.map(([q, n]) => `${q} ${n}`).join(', ');
    };
    const waitDrained = async (deadline: number, label: string): Promise<void> => {
      let calm = 0;
      let last = '';
      while (Date.now() < deadline) {
        const busy = await drained();
        if (busy === null) {
          calm += 1;
          if (calm >= 3) {
            say(`${label}: drained`);
            return;
          }
        } else {
          calm = 0;
          if (busy !== last) say(`${label}: waiting (${busy})`);
          last = busy;
        }
        await sleep(1_000);
      }
      say(`${label}: NOT drained by the deadline (${last})`);
    };
    // The rest of the run, and a little more: backoffs after the last faults may still be running.
    await waitDrained(Math.max(t0 + runMs, Date.now()) + Math.max(30_000, runMs * 0.1), 'drain');
    if (notify !== null) say(`daily digest ${await notify.triggerDaily()} enqueued`);
    const retry = await runCommand(['jobs', 'retry', '--all'], vars, dir);
    // Its stdout has the bot's JSON log lines too; the answer is the one plain line.
    const answer = /^retried \d+ failed jobs?.*$/m.exec(retry.output)?.[0] ?? retry.output.trim().slice(-300);
    const retried = Number(/retried (\d+)/.exec(answer)?.[1] ?? 0);
    say(`isw-ko jobs retry --all: ${answer} (exit ${String(retry.code)})`);
    await waitDrained(Date.now() + Math.max(30_000, runMs * 0.25), 'drain after retry');

    // ---- stop, observe, reconcile ---------------------------------------------------------
    shuttingDown = true;
    const peakMemory = peaks.snapshot();
    for (const bot of bots) await bot.stop();
    for (const bot of bots) await bot.close();
    const facts = await storeFacts(observer, prefix, targets);
    const position = await watcherPosition(observer, prefix);
    const unread =
      position.uidValidity === (await dovecot.uidValidity('INBOX'))
        ? uids.filter((u) => u > position.lastUid).length
        : uids.length;
    const verdict = reconcile(corpus.items, {
      posts: [...fileBoardPosts(vars.BOARD_DIR ?? ''), ...rhymixPosts(board, botMember.memberSrl)],
      reportEmail: facts.reportEmail,
      ingested: facts.ingested,
      rejections: facts.rejections,
      held: facts.held,
      failedJobs: facts.failedJobs,
      pendingJobs: { ...facts.pendingJobs, ...(notify === null ? {} : await notify.pending()) },
      unread,
      logs: readLogs(dir),
      secrets,
      crashes,
      targets,
      fileIndex: fileBoardIndex(vars.BOARD_DIR ?? ''),
      notify: notify === null ? null : await notify.observe(facts.postUrls),
    });
    const summary = formatSummary({
      header:
        `isw-ko soak — seed ${options.seed}, ${options.emails} emails, ${options.subscribers} subscribers` +
        `${notify === null ? ' (notify not in this run: the pipeline does not run it yet)' : ''}, ` +
        `${options.minutes} min, Node ${process.version}`,
      mix: corpus.mix,
      appended,
      verdict,
      faults,
      faultKinds,
      retries: { ...facts.retries, ...(notify === null ? {} : await notify.retries()) },
      retriedByCommand: retried,
      peaks: peakMemory,
      wallMs: Date.now() - started,
    });
    process.stdout.write(`\n${summary}\n`);
    exitCode = verdict.ok ? 0 : 1;
    if (!verdict.ok || options.keep) say(`logs and boards kept in ${dir}`);
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await tearDown();
    if (exitCode === 0 && !options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const program = new Command('soak')
  .description('run the bot under faults on loopback services and reconcile what it posted (issue #8)')
  .option('--emails <n>', 'emails appended to the mailbox', wholeNumber, 300)
  .option('--subscribers <n>', 'digest subscribers (with notify)', wholeNumber, 200)
  .option('--minutes <n>', 'length of the run (feed, faults and drain)', positiveNumber, 10)
  .option('--seed <n>', 'seed of every random choice', wholeNumber, 1)
  .option('--notify <mode>', 'auto (when the pipeline runs the notify stage), on or off', 'auto')
  .option('--log-level <level>', 'LOG_LEVEL of the bot processes', 'debug')
  .option('--keep', 'keep the run directory (logs, boards) even when the run passes', false)
  .action(
    async (opts: {
      emails: number;
      subscribers: number;
      minutes: number;
      seed: number;
      notify: string;
      logLevel: string;
      keep: boolean;
    }) => {
      if (opts.notify !== 'auto' && opts.notify !== 'on' && opts.notify !== 'off') {
        throw new InvalidArgumentError(`--notify must be auto, on or off, not "${opts.notify}"`);
      }
      process.exitCode = await soak({ ...opts, notify: opts.notify });
    },
  );

await program.parseAsync(process.argv);
