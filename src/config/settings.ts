import { z } from 'zod';
import { isDomainName } from './cross-checks.js';

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

/**
 * The entries of GENERIC_SOURCE_NAMES that are not `domain=short name` (one `=`, a domain with a
 * dot before it, a name after it): a bare `foo` would silently match nothing.
 */
function badSourceNamePairs(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((pair) => {
      if (pair === '') return false;
      const parts = pair.split('=').map((s) => s.trim());
      const [domain = '', name = ''] = parts;
      return parts.length !== 2 || !isDomainName(domain) || name === '';
    });
}

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
  JOB_LOCK_MS: setting({
    schema: durationMs.optional(),
    expects: 'a whole number of milliseconds > 0',
    description:
      'How long a worker holds a job before others may take it as stalled. Default: twice LLM_TIMEOUT_MS plus 30 s.',
    group: 'Queues',
  }),
  JOB_STALLED_CHECK_MS: setting({
    schema: durationMs.default(30_000),
    expects: 'a whole number of milliseconds > 0',
    description: 'How often workers look for jobs whose worker died (they are then run again).',
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
    expects: 'the http(s) URL of the API root, usually ending in /v1, e.g. http://127.0.0.1:11434/v1',
    description:
      'Any OpenAI-compatible server (OpenAI, Azure, vLLM, Ollama, llama.cpp). Used as given: most servers serve their API under /v1, a few under another path, so it is not refused without one; a 404 from the server (`isw-ko doctor` shows it) usually means the /v1 is missing.',
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
  TEMPLATES_DIR: setting({
    schema: z.string().min(1).optional(),
    expects: 'a directory path',
    description: 'Handlebars templates (post, digest, pages). Default: the templates/ shipped with isw-ko.',
    group: 'Publishing',
  }),
  PROMPTS_DIR: setting({
    schema: z.string().min(1).optional(),
    expects: 'a directory path',
    description:
      'System prompt, user template, glossary and categories. Default: the prompts/ shipped with isw-ko.',
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
    schema: z
      .string()
      .superRefine((value, ctx) => {
        const bad = badSourceNamePairs(value);
        if (bad.length > 0) {
          ctx.addIssue({ code: 'custom', message: `not a domain=short name pair: ${bad.join(', ')}` });
        }
      })
      .default(''),
    expects: 'domain=short name pairs, e.g. eebrief.example.org=EEB,kyivindependent.com=KI',
    description: 'Short names prefixed to titles of non-ISW newsletters (default: the sender name).',
    group: 'Publishing',
  }),
  IMAP_HOST: setting({
    schema: z.string().min(1).optional(),
    expects: 'a host name or IP address, e.g. imap.gmail.com',
    description:
      'IMAP server of the mailbox subscribed to ISW. Unset: the drop folder (INBOX_DIR) is the inbox.',
    group: 'IMAP',
  }),
  IMAP_PORT: setting({
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    expects: 'a TCP port from 1 to 65535',
    description: 'Default: 993 with IMAP_TLS=implicit, 143 otherwise.',
    group: 'IMAP',
  }),
  IMAP_TLS: setting({
    schema: z.enum(['implicit', 'starttls', 'none']).default('implicit'),
    expects: 'implicit, starttls or none',
    description:
      '`implicit`: TLS from the first byte (port 993); `starttls`: upgrade a plain connection, refusing to go on without TLS; `none`: no TLS (loopback test servers only).',
    group: 'IMAP',
  }),
  IMAP_CA_FILE: setting({
    schema: z.string().min(1).optional(),
    expects: 'the path of a PEM file with one or more CA certificates',
    description:
      'CA certificates trusted for the IMAP server besides the public ones: for a server with a private CA or a self-signed certificate. Certificates are always checked.',
    group: 'IMAP',
  }),
  IMAP_USER: setting({
    schema: z.string().min(1).optional(),
    expects: 'the login name, usually the full address',
    description: 'Login of the mailbox. Required with IMAP_HOST.',
    group: 'IMAP',
  }),
  IMAP_PASSWORD: setting({
    schema: z.string().min(1).optional(),
    expects: 'a password (Gmail, Naver, Daum: an app password)',
    description: 'Password of IMAP_USER. Set this, IMAP_ACCESS_TOKEN or the IMAP_OAUTH_* settings.',
    group: 'IMAP',
    secret: true,
  }),
  IMAP_ACCESS_TOKEN: setting({
    schema: z.string().min(1).optional(),
    expects: 'an OAuth2 access token',
    description:
      'OAuth2 bearer token (XOAUTH2/OAUTHBEARER), instead of a password. Providers expire them within hours: for a bot that runs on its own use the IMAP_OAUTH_* refresh-token settings.',
    group: 'IMAP',
    secret: true,
  }),
  IMAP_OAUTH_TOKEN_URL: setting({
    schema: z.url({ protocol: /^https?$/ }).optional(),
    expects: "the https URL of the provider's token endpoint, e.g. https://oauth2.googleapis.com/token",
    description:
      'OAuth2 refresh-token login (XOAUTH2), instead of a password: the token endpoint. Google: https://oauth2.googleapis.com/token; Microsoft: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token. Needs the three IMAP_OAUTH_* below.',
    group: 'IMAP',
  }),
  IMAP_OAUTH_CLIENT_ID: setting({
    schema: z.string().min(1).optional(),
    expects: 'the OAuth client id',
    description: 'Client id of the OAuth app the mailbox owner consented to.',
    group: 'IMAP',
  }),
  IMAP_OAUTH_CLIENT_SECRET: setting({
    schema: z.string().min(1).optional(),
    expects: 'the OAuth client secret',
    description: 'Client secret of that app.',
    group: 'IMAP',
    secret: true,
  }),
  IMAP_OAUTH_REFRESH_TOKEN: setting({
    schema: z.string().min(1).optional(),
    expects: 'a refresh token from the one-time consent (offline access)',
    description:
      'Refresh token the bot trades for short-lived access tokens on every connect. A rotated one (Microsoft) is kept in Redis.',
    group: 'IMAP',
    secret: true,
  }),
  IMAP_OAUTH_SCOPE: setting({
    schema: z.string().min(1).optional(),
    expects: 'space-separated scopes',
    description:
      'Scope asked for on refresh, when the provider wants one (Microsoft: `https://outlook.office.com/IMAP.AccessAsUser.All offline_access`).',
    group: 'IMAP',
  }),
  IMAP_MAILBOX: setting({
    schema: z.string().min(1).default('INBOX'),
    expects: 'a mailbox (folder) name',
    description: 'Folder watched for new mail.',
    group: 'IMAP',
  }),
  IMAP_PROCESSED: setting({
    schema: z
      .string()
      .regex(/^(?:flag:\\?[^\s(){}%*"\\\]]+|move:.+)$/)
      .default('flag:IswKoProcessed'),
    expects: 'flag:NAME (a keyword or \\Seen) or move:FOLDER',
    description:
      'What happens to a message once it is queued: a keyword set on it, or a move to a folder. Mail is never deleted.',
    group: 'IMAP',
  }),
  IMAP_IDLE: setting({
    schema: boolish.default(true),
    expects: 'true or false',
    description: 'Use IMAP IDLE for push (new mail within a second). `false`: poll every IMAP_POLL_MS.',
    group: 'IMAP',
  }),
  IMAP_POLL_MS: setting({
    schema: durationMs.default(30_000),
    expects: 'a whole number of milliseconds > 0',
    description:
      'How often the mailbox is checked when the server has no IDLE, and as a safety net (and liveness check) beside IDLE.',
    group: 'IMAP',
  }),
  IMAP_WATCHDOG_HOURS: setting({
    schema: z.coerce.number().positive().default(36),
    expects: 'a number of hours > 0',
    description: 'Warn (log, /readyz, doctor) when no genuine ISW report has arrived for this long.',
    group: 'IMAP',
  }),
  SENDER_ALLOWLIST: setting({
    schema: csv.default(['understandingwar.org', 'criticalthreats.org', 'criticalthreats@aei.org']),
    expects: 'a comma-separated list of domains and addresses',
    description:
      "Who may post from the IMAP mailbox: From domains (subdomains included) or exact From addresses. Everything else is ignored. Files in the drop folder are the operator's own and are not checked.",
    group: 'Senders',
  }),
  SENDER_REWRITE_DOMAINS: setting({
    schema: csv.default(['ccsend.com']),
    expects: 'a comma-separated list of domains',
    description:
      "Constant Contact's From-rewrite domains (`publications-understandingwar.org@shared1.ccsend.com`): the address inside the rewrite is checked against SENDER_ALLOWLIST.",
    group: 'Senders',
  }),
  SENDER_VERIFY: setting({
    schema: z.enum(['verify', 'trust-header', 'off']).default('verify'),
    expects: 'verify, trust-header or off',
    description:
      '`verify`: check DKIM/SPF/DMARC ourselves; `trust-header`: trust the Authentication-Results of SENDER_TRUSTED_AUTHSERV; `off`: no check (trusted setups only).',
    group: 'Senders',
  }),
  SENDER_TRUSTED_AUTHSERV: setting({
    schema: csv.default([]),
    expects: 'a comma-separated list of authserv-ids, e.g. mx.google.com',
    description:
      'Receiving servers whose Authentication-Results header is trusted with SENDER_VERIFY=trust-header.',
    group: 'Senders',
  }),
  SENDER_TRUSTED_FORWARDERS: setting({
    schema: csv.default([]),
    expects: 'a comma-separated list of email addresses',
    description:
      'Operators whose (authenticated) forwards of ISW mail are accepted; the forwarded original is what gets parsed.',
    group: 'Senders',
  }),
  PUBLISH_TARGETS: setting({
    schema: csv.pipe(z.array(z.enum(['file', 'rhymix', 'webhook'])).min(1)).optional(),
    expects: 'a comma-separated list of file, rhymix, webhook',
    description:
      'Where every post goes; each target keeps its own status per report. Default: `file` plus `rhymix` and `webhook` when configured.',
    group: 'Publishing',
  }),
  RHYMIX_URL: setting({
    schema: z.url({ protocol: /^https?$/ }).optional(),
    expects: "the site's root URL (where index.php lives), e.g. https://board.example.kr/",
    description: 'Rhymix or XE 1.x site to post to. Setting it turns the `rhymix` target on.',
    group: 'Rhymix',
  }),
  RHYMIX_MID: setting({
    schema: z
      .string()
      .regex(/^[a-zA-Z][a-zA-Z0-9_]*$/)
      .optional(),
    expects: 'the board id from its address (`mid`), e.g. isw',
    description: 'The board (module id) posts go to.',
    group: 'Rhymix',
  }),
  RHYMIX_USER: setting({
    schema: z.string().min(1).optional(),
    expects: "the member's login id (user id or email, as the site's login form asks)",
    description:
      "Member account that writes the posts (not an admin: the board filters its HTML like a person's).",
    group: 'Rhymix',
  }),
  RHYMIX_PASSWORD: setting({
    schema: z.string().min(1).optional(),
    expects: "the member's password",
    description: 'Password of RHYMIX_USER.',
    group: 'Rhymix',
    secret: true,
  }),
  RHYMIX_CATEGORY: setting({
    schema: z.string().min(1).optional(),
    expects: 'a category name of the board (or its category_srl)',
    description:
      "Category of every post, by name; checked at start-up (the error lists the board's categories). Required on boards with categories.",
    group: 'Rhymix',
  }),
  RHYMIX_TAGS: setting({
    schema: csv.default([]),
    expects: 'a comma-separated list of tags',
    description: 'Tags added to every post, besides its categories, countries and machine tag.',
    group: 'Rhymix',
  }),
  RHYMIX_ALLOW_COMMENTS: setting({
    schema: boolish.default(true),
    expects: 'true or false',
    description: 'Whether readers may comment on the posts (sent on every create and edit).',
    group: 'Rhymix',
  }),
  RHYMIX_SOURCE_EXTRA_VAR: setting({
    schema: z.coerce.number().int().min(1).max(99).optional(),
    expects: "the number N of the board's extra variable (extra_varsN) for the source URL",
    description: 'Board extra variable that gets the ISW source URL, when the board has one.',
    group: 'Rhymix',
  }),
  RHYMIX_MIN_INTERVAL_MS: setting({
    schema: z.coerce.number().int().min(0).default(60_000),
    expects: 'a whole number of milliseconds >= 0 (keep it >= 10000 for the spam filter)',
    description:
      "Minimum time between two writes (posts and edits) to the site, across all isw-ko processes (via Redis). Rhymix's spam filter, when a site turns it on, counts both per IP: by default a new post within 10 s of another write is refused, and 3 in 10 s ban the IP.",
    group: 'Rhymix',
  }),
  RHYMIX_FLAVOR: setting({
    schema: z.enum(['rhymix', 'xe']).default('rhymix'),
    expects: 'rhymix or xe',
    description: '`xe` for XpressEngine 1.x sites (no CSRF token, Referer check only).',
    group: 'Rhymix',
  }),
  RHYMIX_MAX_CONTENT_KB: setting({
    schema: z.coerce.number().int().positive().optional(),
    expects: 'a whole number of KB > 0',
    description:
      "The board's document size limit (document_length_limit), when one is set: larger posts fail before they are sent.",
    group: 'Rhymix',
  }),
  RHYMIX_TIMEOUT_MS: setting({
    schema: durationMs.default(30_000),
    expects: 'a whole number of milliseconds > 0',
    description: 'Timeout of one request to the board.',
    group: 'Rhymix',
  }),
  WEBHOOK_URL: setting({
    schema: z.url({ protocol: /^https?$/ }).optional(),
    expects: 'an http(s) URL',
    description: 'Receiver of every post as signed JSON. Setting it turns the `webhook` target on.',
    group: 'Webhook',
  }),
  WEBHOOK_SECRET: setting({
    schema: z.string().min(16).optional(),
    expects: 'a shared secret of at least 16 characters, e.g. from `openssl rand -hex 32`',
    description: 'Key of the HMAC-SHA256 signature in `X-IswKo-Signature` (required with WEBHOOK_URL).',
    group: 'Webhook',
    secret: true,
  }),
  WEBHOOK_TIMEOUT_MS: setting({
    schema: durationMs.default(15_000),
    expects: 'a whole number of milliseconds > 0',
    description: 'Timeout of one webhook delivery; a timeout is retried by the queue.',
    group: 'Webhook',
  }),
  SMTP_URL: setting({
    schema: z.url({ protocol: /^smtps?$/ }).optional(),
    expects: 'an smtp:// or smtps:// URL, e.g. smtps://user:password@smtp.example.org:465',
    description:
      'SMTP server for digests and confirmation emails. Unset: every message is written as an `.eml` file to OUTBOX_DIR instead.',
    group: 'Mail',
    secret: true,
  }),
  MAIL_FROM: setting({
    schema: z
      .string()
      .regex(/^(?:[^<>]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/)
      .default('ISW 브리핑 <isw-ko@localhost>'),
    expects: 'an address, optionally with a display name: `ISW 브리핑 <briefing@example.org>`',
    description: 'Sender of every email (its domain also names the Message-IDs).',
    group: 'Mail',
  }),
  MAIL_RATE_PER_SECOND: setting({
    schema: z.coerce.number().int().min(0).default(10),
    expects: 'a whole number of messages per second, 0 for no limit',
    description: 'Messages handed to SMTP per second across all worker processes (a BullMQ rate limiter).',
    group: 'Mail',
  }),
  MAIL_POOL_SIZE: setting({
    schema: z.coerce.number().int().min(1).max(50).default(5),
    expects: 'a whole number from 1 to 50',
    description: 'SMTP connections kept open per worker process (nodemailer pool).',
    group: 'Mail',
  }),
  OUTBOX_DIR: setting({
    schema: z.string().min(1).optional(),
    expects: 'a directory path',
    description:
      'Where messages are written as `.eml` files when SMTP_URL is unset. Default: DATA_DIR/outbox.',
    group: 'Mail',
  }),
  PUBLIC_BASE_URL: setting({
    schema: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8787'),
    expects: 'the public http(s) URL of the admin server, e.g. https://isw.example.org',
    description:
      'Base of the subscribe, confirm and unsubscribe links in emails. Must be https in production (RFC 8058 one-click unsubscribe requires it).',
    group: 'Mail',
  }),
  UNSUBSCRIBE_MAILTO: setting({
    schema: z.email().optional(),
    expects: 'an email address, e.g. unsubscribe@example.org',
    description:
      'The mailto: address of the List-Unsubscribe header (RFC 2369), beside the https one-click link. Advertised only with IMAP_HOST set: make it an alias or +tag of the watched mailbox, and mail to it unsubscribes the subscriber whose link it answers. Unset, or without IMAP (nothing would read it; a warning at start-up): the header carries the https link alone.',
    group: 'Mail',
  }),
  TOKEN_SECRET: setting({
    schema: z.string().min(32).optional(),
    expects: 'a random string of at least 32 characters, e.g. from `openssl rand -base64 48`',
    description:
      'Key of the HMAC that signs confirm and unsubscribe links. Required in production; in development a generated key is kept in DATA_DIR/token-secret (with a warning). Changing it invalidates every link already sent.',
    group: 'Mail',
    secret: true,
  }),
  DIGEST_TIME: setting({
    schema: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/)
      .default('08:00'),
    expects: 'a time of day as HH:MM (24-hour clock)',
    description: 'When daily digests are sent, in DIGEST_TIME_ZONE.',
    group: 'Mail',
  }),
  DIGEST_TIME_ZONE: setting({
    schema: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          // Intl throws a RangeError for an unknown zone: that is the answer, not an error to report.
          return false;
        }
      }, 'not an IANA time zone')
      .default('Asia/Seoul'),
    expects: 'an IANA time zone name, e.g. Asia/Seoul',
    description: 'Time zone of DIGEST_TIME and of the dates in digests.',
    group: 'Mail',
  }),
  BOUNCE_LIMIT: setting({
    schema: z.coerce.number().int().min(1).max(100).default(3),
    expects: 'a whole number from 1 to 100',
    description:
      'Permanent (5xx) rejections of a subscriber in a row before they are marked bounced and no longer mailed.',
    group: 'Mail',
  }),
  ADMIN_LISTEN: setting({
    schema: z
      .string()
      .regex(/^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):\d{1,5}$/)
      .refine((v) => {
        const port = Number(v.slice(v.lastIndexOf(':') + 1));
        return port >= 0 && port <= 65535;
      }, 'the port must be from 0 to 65535')
      .default('127.0.0.1:8787'),
    expects: 'host:port, e.g. 127.0.0.1:8787, 0.0.0.0:8787 or [::1]:8787',
    description:
      'Where `isw-ko run` serves the admin pages, the public subscribe routes, /healthz, /readyz and /metrics. Keep it on loopback unless a TLS reverse proxy is in front.',
    group: 'Admin',
  }),
  ADMIN_PASSWORD: setting({
    schema: z.string().min(12).optional(),
    expects: 'a password of at least 12 characters, e.g. from `openssl rand -base64 18`',
    description:
      'Password of the admin login form. Unset: the admin pages and API are off (health, metrics and public routes still answer).',
    group: 'Admin',
    secret: true,
  }),
  ADMIN_TOKEN: setting({
    schema: z.string().min(32).optional(),
    expects: 'a random string of at least 32 characters, e.g. from `openssl rand -hex 32`',
    description:
      'Bearer token for the admin JSON API (`Authorization: Bearer …`, no login form) and, when set, required by /metrics.',
    group: 'Admin',
    secret: true,
  }),
  ADMIN_SESSION_SECRET: setting({
    schema: z.string().min(32).optional(),
    expects: 'a random string of at least 32 characters, e.g. from `openssl rand -base64 48`',
    description:
      'Key that signs admin session cookies. Unset: a random key per process, so every restart logs admins out.',
    group: 'Admin',
    secret: true,
  }),
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The validated values, keyed by variable name. */
export type Env = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };
