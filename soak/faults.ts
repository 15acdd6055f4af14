// Fault injection for the soak: what can go wrong in production, on purpose, at seeded moments.
import type { TestDovecot } from '../tests/support/dovecot.js';
import type { LlmBehaviour, LlmServer } from '../tests/support/llm-server.js';
import type { RhymixTestServer } from '../tests/support/rhymix-server.js';
import type { TestSmtpServer } from '../tests/support/smtp-server.js';
import type { BotProcess, RestartableRedis } from './processes.js';
import type { Random } from './random.js';

/**
 * - `worker-kill`: SIGKILL of a bot process (its jobs must be taken over once their lock lapses,
 *   the inbox's lock too when it is `run`), restarted after a pause;
 * - `redis-restart`: redis-server stopped and started on the same port and AOF directory;
 * - `dovecot-restart`: the IMAP server stopped (or killed) and started again;
 * - `llm-*`: the next few LLM requests answer 429 (with Retry-After), 500/503, never (the client
 *   times out) or with content that is not JSON;
 * - `board-5xx`: the Rhymix board answers 503 to everything for a few seconds;
 * - `smtp-4xx`: the SMTP server answers 451 to the next messages (only with notify).
 */
export const FAULT_KINDS = [
  'worker-kill',
  'redis-restart',
  'dovecot-restart',
  'llm-429',
  'llm-500',
  'llm-timeout',
  'llm-invalid-json',
  'board-5xx',
  'smtp-4xx',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  /** When, in ms from the start of the feed. */
  readonly atMs: number;
  readonly kind: FaultKind;
}

/**
 * `count` faults at random moments in [startMs, endMs), every kind in `kinds` at least once (when
 * `count` allows), the rest drawn at random; sorted by time. They run one after another: a fault
 * due while the previous one lasts waits for it, so a restart never meets a board that is down
 * (a bot refuses to start against a board that refuses its login, by design).
 */
export function planFaults(
  random: Random,
  options: {
    readonly startMs: number;
    readonly endMs: number;
    readonly count: number;
    readonly kinds: readonly FaultKind[];
  },
): PlannedFault[] {
  const kinds = random.shuffle(options.kinds);
  while (kinds.length < options.count) kinds.push(random.pick(options.kinds));
  const times = kinds
    .map(() => options.startMs + Math.floor(random.next() * (options.endMs - options.startMs)))
    .sort((a, b) => a - b);
  return random.shuffle(kinds).map((kind, i) => ({ atMs: times[i] ?? options.startMs, kind }));
}

/** What the faults act on. */
export interface FaultTargets {
  /** The process the next `worker-kill` takes (the soak rotates through all of them). */
  readonly nextVictim: () => BotProcess;
  readonly redis: RestartableRedis;
  readonly dovecot: TestDovecot;
  readonly llm: LlmServer;
  readonly board: RhymixTestServer;
  readonly smtp: TestSmtpServer | null;
}

/** One fault as it happened. */
export interface FaultRecord {
  readonly kind: FaultKind;
  /** Start, ms from the start of the feed. */
  readonly atMs: number;
  readonly durationMs: number;
  readonly detail: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function repeat(n: number, behaviour: LlmBehaviour): LlmBehaviour[] {
  return Array.from({ length: n }, () => behaviour);
}

/**
 * Inject one fault and return what was done once it is over (the process restarted, the server
 * back). LLM and SMTP faults are scripted answers to the next requests: they last until used up.
 */
export async function injectFault(kind: FaultKind, random: Random, t: FaultTargets): Promise<string> {
  switch (kind) {
    case 'worker-kill': {
      const bot = t.nextVictim();
      const pauseMs = random.int(1_000, 4_000);
      // Slow the next summaries down first, so the kill is likely to land in the middle of a job
      // (the test LLM otherwise answers in a millisecond and kills find idle workers).
      t.llm.enqueue(...repeat(3, { slow: 2_500 }));
      await sleep(700);
      await bot.kill();
      await sleep(pauseMs);
      await bot.start();
      return `${bot.role} SIGKILLed, restarted after ${pauseMs} ms`;
    }
    case 'redis-restart': {
      const pauseMs = random.int(1_000, 3_000);
      await t.redis.down();
      await sleep(pauseMs);
      await t.redis.up();
      return `redis-server stopped, started again on :${t.redis.port} after ${pauseMs} ms`;
    }
    case 'dovecot-restart': {
      const hard = random.chance(0.5);
      const pauseMs = random.int(1_000, 3_000);
      if (hard) await t.dovecot.kill();
      else await t.dovecot.stop();
      await sleep(pauseMs);
      await t.dovecot.start();
      return `dovecot ${hard ? 'SIGKILLed' : 'stopped'}, started again after ${pauseMs} ms`;
    }
    case 'llm-429': {
      const n = random.int(2, 4);
      t.llm.enqueue(...repeat(n, { status: 429, retryAfterSeconds: 1 }));
      return `next ${n} LLM requests answer 429 (Retry-After: 1)`;
    }
    case 'llm-500': {
      const n = random.int(2, 4);
      t.llm.enqueue(...Array.from({ length: n }, () => ({ status: random.pick([500, 502, 503]) })));
      return `next ${n} LLM requests answer 5xx`;
    }
    case 'llm-timeout': {
      const n = random.int(1, 2);
      t.llm.enqueue(...repeat(n, 'hang'));
      return `next ${n} LLM request(s) never answer (client timeout)`;
    }
    case 'llm-invalid-json': {
      const n = random.int(2, 3);
      t.llm.enqueue(...repeat(n, 'invalid-json'));
      return `next ${n} LLM requests answer text that is not JSON`;
    }
    case 'board-5xx': {
      const ms = random.int(2_000, 6_000);
      t.board.unavailable = true;
      await sleep(ms);
      t.board.unavailable = false;
      return `Rhymix board answered 503 for ${ms} ms`;
    }
    case 'smtp-4xx': {
      if (t.smtp === null) return 'skipped: no SMTP server in this run';
      const n = random.int(5, 20);
      const stage = random.pick(['rcpt', 'data'] as const);
      t.smtp.respond({ stage, code: 451, message: '4.7.1 Try again later (soak)', times: n });
      return `next ${n} messages answered 451 at ${stage.toUpperCase()}`;
    }
  }
}
