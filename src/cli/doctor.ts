import { spawnSync } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Env } from '../config/index.js';
import { loadPostTemplates } from '../publish/index.js';
import { checkAdmin } from '../admin/check-admin.js';
import { checkMail } from '../notify/check-mail.js';
import { accessTokenProviderFor, checkImap, imapSettingsFrom, senderPolicyFrom } from '../inbox/index.js';
import { checkRhymix, rhymixSettingsFrom } from '../publish/rhymix/index.js';
import { webhookSettingsFrom } from '../publish/webhook/index.js';
import { AppError } from '../shared/app-error.js';
import { describeFileError } from '../shared/fs-errors.js';
import { DEFAULT_PROMPTS_DIR, DEFAULT_TEMPLATES_DIR } from '../shared/paths.js';
import { answersPing } from '../shared/redis-server.js';
import { checkLlm, createLlmClient, loadPrompts, resolveLlmSettings } from '../summarize/index.js';

/** One line of `isw-ko doctor`. */
export interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  readonly hint: string | null;
}

/**
 * One part `isw-ko doctor` checks. `name` is what its line shows even when the check throws
 * (a function's own name, `checkRhymixPart`, means nothing to an operator).
 */
export interface DoctorPart {
  readonly name: string;
  readonly check: (env: Env) => Promise<DoctorCheck>;
}

/** The checks of every configured part; more parts add theirs here. */
export const CHECKS: readonly DoctorPart[] = [
  { name: 'redis', check: checkRedis },
  { name: 'llm', check: checkLlmPart },
  { name: 'templates', check: checkPromptsAndTemplates },
  { name: 'board', check: checkBoardDir },
  { name: 'rhymix', check: checkRhymixPart },
  { name: 'webhook', check: checkWebhookPart },
  { name: 'imap', check: checkImapPart },
  { name: 'inbox', check: checkInbox },
  { name: 'mail', check: checkMail },
  { name: 'admin', check: checkAdmin },
];

/** Run every check (all of them, even after a failure) and report each. */
export async function runDoctor(env: Env, parts: readonly DoctorPart[] = CHECKS): Promise<DoctorCheck[]> {
  const results: DoctorCheck[] = [];
  for (const part of parts) {
    try {
      results.push(await part.check(env));
    } catch (err) {
      results.push(failedCheck(part.name, err));
    }
  }
  return results;
}

/**
 * The line of a check that threw. An {@link AppError} (a ConfigError for settings that do not go
 * together, a board refusing the login…) is the part's failure, said in its own words and hint;
 * a folder the bot cannot use is a setup problem too. Only anything else is a bug in the check.
 */
export function failedCheck(name: string, err: unknown): DoctorCheck {
  if (err instanceof AppError) return { name, ok: false, message: err.message, hint: err.hint ?? null };
  const fileProblem = describeFileError(err);
  if (fileProblem !== null) return { name, ok: false, message: fileProblem, hint: null };
  return {
    name,
    ok: false,
    message: `the check itself failed: ${String(err)}`,
    hint: 'report this as a bug',
  };
}

/** Doctor results as the terminal shows them; a message of several lines is indented under its part. */
export function formatDoctor(results: readonly DoctorCheck[]): string {
  return results
    .map(
      (r) =>
        `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(10)} ${r.message.replace(/\n/g, `\n${' '.repeat(17)}`)}${r.hint === null ? '' : `\n      → ${r.hint}`}`,
    )
    .join('\n');
}

/** A doctor's Redis connection: one try, no reconnects, 3 s to connect — a check must not hang. */
const PROBE_OPTIONS = {
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  retryStrategy: () => null,
  connectTimeout: 3000,
};

/** A connection to the bot's Redis when it answers (REDIS_URL or the embedded server), else null. */
async function reachableRedis(env: Env): Promise<Redis | null> {
  const socket = path.resolve(env.DATA_DIR, 'redis', 'redis.sock');
  const redis =
    env.REDIS_URL !== undefined
      ? new Redis(env.REDIS_URL, PROBE_OPTIONS)
      : (await answersPing({ path: socket }))
        ? new Redis({ ...PROBE_OPTIONS, path: socket })
        : null;
  if (redis === null) return null;
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return redis;
  } catch {
    redis.disconnect();
    return null;
  }
}

async function checkRedis(env: Env): Promise<DoctorCheck> {
  if (env.REDIS_URL !== undefined) {
    const redis = new Redis(env.REDIS_URL, PROBE_OPTIONS);
    redis.on('error', () => undefined); // the failure is reported by ping below
    try {
      await redis.connect();
      const info = await redis.info('server');
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      const policy = await redis.config('GET', 'maxmemory-policy');
      const ok = policy[1] === undefined || policy[1] === 'noeviction';
      return {
        name: 'redis',
        ok,
        message: `Redis ${version} answers at REDIS_URL${ok ? '' : `, but maxmemory-policy is ${policy[1] ?? '?'}`}`,
        hint: ok ? null : 'set maxmemory-policy noeviction: BullMQ loses jobs when Redis evicts keys',
      };
    } catch (err) {
      return {
        name: 'redis',
        ok: false,
        message: `Redis at REDIS_URL does not answer: ${(err as Error).message}`,
        hint: 'start Redis, or fix REDIS_URL (unset it to use the embedded redis-server)',
      };
    } finally {
      redis.disconnect();
    }
  }
  const socket = path.resolve(env.DATA_DIR, 'redis', 'redis.sock');
  if (await answersPing({ path: socket })) {
    return { name: 'redis', ok: true, message: `embedded redis-server is running (${socket})`, hint: null };
  }
  const probe = spawnSync(env.REDIS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return {
      name: 'redis',
      ok: false,
      message: `no REDIS_URL and no redis-server binary ("${env.REDIS_SERVER_BIN}")`,
      hint: 'install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL',
    };
  }
  return {
    name: 'redis',
    ok: true,
    message: `embedded mode: ${probe.stdout.trim().split(' ').slice(0, 3).join(' ')} will be started under ${env.DATA_DIR}/redis`,
    hint: null,
  };
}

async function checkLlmPart(env: Env): Promise<DoctorCheck> {
  const llm = resolveLlmSettings(env);
  const result = await checkLlm(
    createLlmClient({ ...llm, timeoutMs: Math.min(llm.timeoutMs, 10_000) }),
    llm.model,
    {
      usingLocalOllamaDefault: llm.usingLocalOllamaDefault,
    },
  );
  const hint =
    result.hint ??
    (result.ok
      ? null
      : 'set OPENAI_BASE_URL (and OPENAI_API_KEY) to an OpenAI-compatible server, or start Ollama locally');
  return { name: 'llm', ok: result.ok, message: result.message, hint };
}

async function checkPromptsAndTemplates(env: Env): Promise<DoctorCheck> {
  try {
    const [prompts] = await Promise.all([
      loadPrompts(env.PROMPTS_DIR ?? DEFAULT_PROMPTS_DIR),
      loadPostTemplates(env.TEMPLATES_DIR ?? DEFAULT_TEMPLATES_DIR),
    ]);
    return {
      name: 'templates',
      ok: true,
      message: `prompts (version ${prompts.version}) and post templates load`,
      hint: null,
    };
  } catch (err) {
    return {
      name: 'templates',
      ok: false,
      message: (err as Error).message,
      hint: 'restore prompts/ and templates/ from the repository',
    };
  }
}

async function checkRhymixPart(env: Env): Promise<DoctorCheck> {
  const settings = rhymixSettingsFrom(env);
  if (settings === null)
    return { name: 'rhymix', ok: true, message: offBecause(env, 'rhymix', 'RHYMIX_URL'), hint: null };
  const result = await checkRhymix(settings);
  return { name: 'rhymix', ok: result.ok, message: result.message, hint: result.hint };
}

async function checkWebhookPart(env: Env): Promise<DoctorCheck> {
  const settings = webhookSettingsFrom(env);
  if (settings === null)
    return { name: 'webhook', ok: true, message: offBecause(env, 'webhook', 'WEBHOOK_URL'), hint: null };
  // Sending a test delivery would post something: only check that the receiver answers at all.
  try {
    const res = await fetch(settings.url, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return {
      name: 'webhook',
      ok: true,
      message: `${new URL(settings.url).origin} answers (HTTP ${res.status})`,
      hint: null,
    };
  } catch (err) {
    return {
      name: 'webhook',
      ok: false,
      message: `${new URL(settings.url).origin} does not answer: ${(err as Error).message}`,
      hint: 'check WEBHOOK_URL and that the receiver is running',
    };
  }
}

/** Why a board target is off: PUBLISH_TARGETS leaves it out, or its URL is unset. */
function offBecause(env: Env, target: 'rhymix' | 'webhook', urlVariable: string): string {
  return env.PUBLISH_TARGETS !== undefined && !env.PUBLISH_TARGETS.includes(target)
    ? 'off (PUBLISH_TARGETS leaves it out)'
    : `not configured (${urlVariable} unset)`;
}

async function checkBoardDir(env: Env): Promise<DoctorCheck> {
  return writableDir('board', env.BOARD_DIR ?? path.join(env.DATA_DIR, 'board'));
}

async function checkImapPart(env: Env): Promise<DoctorCheck> {
  const settings = imapSettingsFrom(env);
  if (settings === null)
    return {
      name: 'imap',
      ok: true,
      message: 'not configured (IMAP_HOST unset): the drop folder is the inbox',
      hint: null,
    };
  // OAuth2: the refresh token the bot keeps in Redis (providers that rotate it may revoke a whole
  // family when an old one is used again), and a rotation from here is kept there too.
  const redis = 'oauth2' in settings.auth ? await reachableRedis(env) : null;
  let result: Awaited<ReturnType<typeof checkImap>>;
  try {
    const accessToken = accessTokenProviderFor(settings, {
      logger: pino({ level: 'silent' }),
      ...(redis === null ? {} : { redis, prefix: env.REDIS_PREFIX }),
    });
    result = await checkImap(settings, accessToken === undefined ? {} : { accessToken });
  } finally {
    redis?.disconnect();
  }
  const policy = senderPolicyFrom(env);
  const warning = policy.mode === 'off' ? ' — SENDER_VERIFY=off: mail is not authenticated' : '';
  return { name: 'imap', ok: result.ok, message: `${result.message}${warning}`, hint: result.hint };
}

async function checkInbox(env: Env): Promise<DoctorCheck> {
  // IMAP_HOST alone decides the mode; whether the IMAP settings go together is the imap line's job.
  if (env.IMAP_HOST !== undefined)
    return { name: 'inbox', ok: true, message: 'IMAP mode: the drop folder is not used', hint: null };
  return writableDir('inbox', env.INBOX_DIR);
}

async function writableDir(name: string, dir: string): Promise<DoctorCheck> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return { name, ok: true, message: `${path.resolve(dir)} is writable`, hint: null };
  } catch (err) {
    return {
      name,
      ok: false,
      message: `${path.resolve(dir)} is not writable: ${(err as Error).message}`,
      hint: 'fix its permissions or point the setting elsewhere',
    };
  }
}
