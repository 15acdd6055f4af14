import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '../config/index.js';
import type { Logger } from '../shared/logger.js';
import { parseMailbox, type MailAddress } from './mailer.js';
import { NotifyError } from './notify-error.js';
import { parseDailyTime, type DailyTime } from './schedule.js';

/** The notify stage's slice of the configuration, resolved (defaults filled, the secret loaded). */
export interface NotifySettings {
  readonly smtpUrl: string | null;
  readonly from: MailAddress;
  /** 0: no limit. */
  readonly ratePerSecond: number;
  readonly poolSize: number;
  readonly outboxDir: string;
  /** Without a trailing slash. */
  readonly publicBaseUrl: string;
  /**
   * The `mailto:` address of List-Unsubscribe (RFC 2369), or null to advertise the https URL alone.
   * Set only when UNSUBSCRIBE_MAILTO is set and IMAP_HOST too: the IMAP watcher is what reads
   * unsubscribe mail, so without it a mail client that prefers the `mailto:` would lose the request.
   */
  readonly unsubscribeMailto: string | null;
  readonly tokenSecret: string;
  readonly digestTime: DailyTime;
  readonly digestTimeZone: string;
  readonly bounceLimit: number;
}

/** Where the development key is kept when TOKEN_SECRET is unset. */
export const DEV_SECRET_FILE = 'token-secret';

/**
 * Build the notify settings at start-up, before any connection is opened. With no TOKEN_SECRET, in
 * production this stops with `SECRET_MISSING`; in development and tests a random key is generated
 * once into DATA_DIR/token-secret (mode 0600) and reused, with a warning: links keep working across
 * restarts of one machine, but a second machine would need the same file.
 *
 * @throws NotifyError `SECRET_MISSING`, `SETTINGS_INVALID`
 */
export async function resolveNotifySettings(env: Env, logger?: Logger): Promise<NotifySettings> {
  const from = parseMailbox(env.MAIL_FROM);
  const base = env.PUBLIC_BASE_URL.replace(/\/+$/, '');
  if (env.NODE_ENV === 'production' && !base.startsWith('https://')) {
    throw new NotifyError('SETTINGS_INVALID', `PUBLIC_BASE_URL must be https in production (got ${base})`, {
      hint: 'RFC 8058 one-click unsubscribe needs an HTTPS URI; set PUBLIC_BASE_URL to the https address of the admin server',
    });
  }
  const unsubscribeMailto = unsubscribeMailtoOf(env);
  if (env.UNSUBSCRIBE_MAILTO !== undefined && unsubscribeMailto === null) {
    logger?.warn(
      { unsubscribeMailto: env.UNSUBSCRIBE_MAILTO },
      'UNSUBSCRIBE_MAILTO is set but IMAP_HOST is not: no mailbox is watched, so nothing would read unsubscribe mail; List-Unsubscribe carries the https link only (set IMAP_HOST, or unset UNSUBSCRIBE_MAILTO)',
    );
  }
  if (env.NODE_ENV === 'production' && env.SMTP_URL !== undefined && /@localhost$/i.test(from.address)) {
    logger?.warn(
      { from: from.address },
      'MAIL_FROM is still the default; receiving servers will reject or junk it',
    );
  }
  return {
    smtpUrl: env.SMTP_URL ?? null,
    from,
    ratePerSecond: env.MAIL_RATE_PER_SECOND,
    poolSize: env.MAIL_POOL_SIZE,
    outboxDir: env.OUTBOX_DIR ?? path.join(env.DATA_DIR, 'outbox'),
    publicBaseUrl: base,
    unsubscribeMailto,
    tokenSecret: env.TOKEN_SECRET ?? (await developmentSecret(env, logger)),
    digestTime: parseDailyTime(env.DIGEST_TIME),
    digestTimeZone: env.DIGEST_TIME_ZONE,
    bounceLimit: env.BOUNCE_LIMIT,
  };
}

/**
 * The List-Unsubscribe `mailto:` address: UNSUBSCRIBE_MAILTO, only when an IMAP mailbox is watched
 * (IMAP_HOST), whose watcher hands unsubscribe mail to the notify stage. Never MAIL_FROM by default:
 * nothing reads the sender address, and the drop folder reads no mail at all.
 */
export function unsubscribeMailtoOf(env: Pick<Env, 'UNSUBSCRIBE_MAILTO' | 'IMAP_HOST'>): string | null {
  return env.UNSUBSCRIBE_MAILTO !== undefined && env.IMAP_HOST !== undefined ? env.UNSUBSCRIBE_MAILTO : null;
}

async function developmentSecret(env: Env, logger?: Logger): Promise<string> {
  if (env.NODE_ENV === 'production') {
    throw new NotifyError(
      'SECRET_MISSING',
      'TOKEN_SECRET is not set; it signs every confirm and unsubscribe link',
    );
  }
  const file = path.resolve(env.DATA_DIR, DEV_SECRET_FILE);
  await mkdir(path.dirname(file), { recursive: true });
  try {
    // 'wx': create only if absent, so two processes starting together agree on one key.
    await writeFile(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
    logger?.warn(
      { file },
      'TOKEN_SECRET is unset: generated a development key (set TOKEN_SECRET in production)',
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    logger?.debug({ file }, 'TOKEN_SECRET is unset: using the development key generated earlier');
  }
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < 32) {
    throw new NotifyError('SECRET_MISSING', `${file} holds a key shorter than 32 characters`, {
      hint: `delete ${file} to have a new one generated, or set TOKEN_SECRET`,
    });
  }
  return secret;
}
