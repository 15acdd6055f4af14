import { z } from 'zod';

/**
 * Every environment variable isw-ko reads, in one table: its schema, what it expects (shown when
 * it is wrong), whether it is a secret (never logged), and the README group it belongs to.
 * `config/load.ts` validates all of them at once; nothing else reads `process.env`.
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  readonly schema: T;
  readonly expects: string;
  readonly description: string;
  readonly group: string;
  readonly secret?: boolean;
}

const setting = <T extends z.ZodType>(s: Setting<T>): Setting<T> => s;

const durationMs = z.coerce.number().int().positive();
const boolish = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

export const SETTINGS = {
  NODE_ENV: setting({
    schema: z.enum(['development', 'production', 'test']).default('development'),
    expects: 'development, production or test',
    description: 'Run mode. `production` switches logs to JSON by default.',
    group: 'General',
  }),
  LOG_LEVEL: setting({
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    expects: 'one of fatal, error, warn, info, debug, trace, silent',
    description: 'Minimum level of log lines written.',
    group: 'General',
  }),
  LOG_FORMAT: setting({
    schema: z.enum(['auto', 'json', 'pretty']).default('auto'),
    expects: 'auto, json or pretty',
    description: '`auto`: readable lines in a terminal, JSON otherwise and in production.',
    group: 'General',
  }),
  DATA_DIR: setting({
    schema: z.string().min(1).default('data'),
    expects: 'a directory path',
    description: 'Where the embedded defaults keep their files (redis data, board, outbox).',
    group: 'General',
  }),
  INBOX_DIR: setting({
    schema: z.string().min(1).default('inbox'),
    expects: 'a directory path',
    description: 'Drop folder watched for `.eml` files when no IMAP server is configured.',
    group: 'Inbox',
  }),
  INBOX_POLL_MS: setting({
    schema: durationMs.default(2000),
    expects: 'a whole number of milliseconds > 0',
    description: 'How often the drop folder is rescanned, in addition to file-system events.',
    group: 'Inbox',
  }),
  ISW_SENDER_DOMAINS: setting({
    schema: csv.default(['understandingwar.org', 'aei.org', 'criticalthreats.org']),
    expects: 'a comma-separated list of domains',
    description: 'Sender domains whose mail is parsed as an ISW report (others become `generic`).',
    group: 'Parsing',
  }),
  PARSE_MAX_MESSAGE_BYTES: setting({
    schema: z.coerce
      .number()
      .int()
      .positive()
      .default(50 * 1024 * 1024),
    expects: 'a whole number of bytes > 0',
    description: 'Larger emails are rejected with `MESSAGE_TOO_LARGE` before parsing.',
    group: 'Parsing',
  }),
  PARSE_TIMEOUT_MS: setting({
    schema: durationMs.default(30_000),
    expects: 'a whole number of milliseconds > 0',
    description: 'An email that takes longer to parse fails with `PARSE_TIMEOUT` (the parser never hangs).',
    group: 'Parsing',
  }),
  REDIS_URL: setting({
    schema: z.url({ protocol: /^rediss?$/ }).optional(),
    expects: 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0',
    description:
      'Redis for the queues and storage. Unset: a private `redis-server` is started under DATA_DIR.',
    group: 'Queues',
    secret: true,
  }),
  REDIS_PREFIX: setting({
    schema: z
      .string()
      .regex(/^[a-z0-9_-]+$/i)
      .default('isw-ko'),
    expects: 'letters, digits, `_` or `-`',
    description: 'Prefix of every Redis key and queue, so several bots can share one Redis.',
    group: 'Queues',
  }),
  REDIS_SERVER_BIN: setting({
    schema: z.string().min(1).default('redis-server'),
    expects: 'the path of a redis-server binary',
    description: 'Binary used for the embedded Redis when REDIS_URL is unset.',
    group: 'Queues',
  }),
  OPENAI_API_KEY: setting({
    schema: z.string().min(1).optional(),
    expects: 'an API key',
    description: 'Key for the OpenAI-compatible server. Unset with no base URL: a local Ollama is used.',
    group: 'LLM',
    secret: true,
  }),
  OPENAI_BASE_URL: setting({
    schema: z.url({ protocol: /^https?$/ }).optional(),
    expects: 'an http(s) URL ending in /v1, e.g. http://127.0.0.1:11434/v1',
    description: 'Any OpenAI-compatible server (OpenAI, Azure, vLLM, Ollama, llama.cpp).',
    group: 'LLM',
  }),
  LLM_MODEL: setting({
    schema: z.string().min(1).optional(),
    expects: 'a model name the server knows',
    description: 'Model name. Default: `gpt-4o-mini` with an API key, `qwen2.5:7b-instruct` on local Ollama.',
    group: 'LLM',
  }),
  LLM_TIMEOUT_MS: setting({
    schema: durationMs.default(120_000),
    expects: 'a whole number of milliseconds > 0',
    description: 'Timeout of one LLM request (kept below the summarize job lock).',
    group: 'LLM',
  }),
  LLM_CONCURRENCY: setting({
    schema: z.coerce.number().int().min(1).max(64).default(2),
    expects: 'a whole number from 1 to 64',
    description: 'Summaries requested at the same time per worker process.',
    group: 'LLM',
  }),
  LLM_MONTHLY_TOKEN_BUDGET: setting({
    schema: z.coerce.number().int().min(0).default(0),
    expects: 'a whole number of tokens, 0 for no budget',
    description: 'Summarising pauses when this many tokens have been used this month.',
    group: 'LLM',
  }),
  LLM_PRICE_PER_MTOKENS: setting({
    schema: z
      .string()
      .regex(/^\d+(\.\d+)?\/\d+(\.\d+)?$/)
      .default('0.15/0.6'),
    expects: 'input/output price in USD per million tokens, e.g. 0.15/0.6',
    description: 'Used to estimate the cost of each summary.',
    group: 'LLM',
  }),
  BOARD_DIR: setting({
    schema: z.string().min(1).optional(),
    expects: 'a directory path',
    description: 'Where the local HTML board writes posts. Default: DATA_DIR/board.',
    group: 'Publishing',
  }),
  BOARD_RESOLVE_LINKS: setting({
    schema: boolish.default(true),
    expects: 'true or false',
    description: 'Follow Constant Contact tracking redirects to publish the real report URL.',
    group: 'Publishing',
  }),
  GENERIC_SOURCE_NAMES: setting({
    schema: z.string().default(''),
    expects: 'domain=short name pairs, e.g. eebrief.example.org=EEB,kyivindependent.com=KI',
    description: 'Short names prefixed to titles of non-ISW newsletters (default: the sender name).',
    group: 'Publishing',
  }),
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The validated values, keyed by variable name. */
export type Env = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };
