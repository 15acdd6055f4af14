import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Env } from '../config/index.js';
import { classifyDeliveryError, type SmtpFailure } from './delivery-errors.js';

/** One line of `isw-ko doctor` (the shape of `DoctorCheck` in src/cli/doctor.ts). */
export interface MailCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  readonly hint: string | null;
}

/** Doctor answers within seconds; a send's own timeouts (30 s each) are for a busy server. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * `isw-ko doctor`'s check of outgoing mail. With SMTP_URL: connect, EHLO, STARTTLS when offered,
 * and log in when the URL carries credentials (nodemailer's `verify`; nothing is sent). Without it:
 * the outbox folder the digests are written to must be writable.
 */
export async function checkMail(env: Env): Promise<MailCheck> {
  if (env.SMTP_URL === undefined) {
    const dir = path.resolve(env.OUTBOX_DIR ?? path.join(env.DATA_DIR, 'outbox'));
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return {
        name: 'mail',
        ok: true,
        message: `no SMTP_URL: digests are written to ${dir} as .eml files`,
        hint: null,
      };
    } catch (err) {
      return {
        name: 'mail',
        ok: false,
        message: `no SMTP_URL, and the outbox ${dir} is not writable: ${(err as Error).message}`,
        hint: 'fix its permissions, set OUTBOX_DIR elsewhere, or set SMTP_URL',
      };
    }
  }
  const where = serverOf(env.SMTP_URL);
  const transport = nodemailer.createTransport({
    url: env.SMTP_URL,
    connectionTimeout: PROBE_TIMEOUT_MS,
    greetingTimeout: PROBE_TIMEOUT_MS,
    socketTimeout: PROBE_TIMEOUT_MS,
  });
  try {
    await transport.verify();
    const login = new URL(env.SMTP_URL).username === '' ? 'answers' : 'answers and accepts the login';
    return { name: 'mail', ok: true, message: `SMTP server ${where} ${login}`, hint: null };
  } catch (err) {
    const failure = err as SmtpFailure & Error;
    const decision = classifyDeliveryError(failure);
    return {
      name: 'mail',
      ok: false,
      message: `SMTP server ${where}: ${failure.response ?? failure.message}`,
      hint:
        decision.action === 'config'
          ? 'check the user, password and TLS settings in SMTP_URL (smtps:// for port 465, smtp:// with STARTTLS for 587)'
          : 'check the host and port in SMTP_URL, and that the server is running and reachable from here',
    };
  } finally {
    transport.close();
  }
}

/** host:port of an SMTP URL, never its credentials. */
function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port === '' ? '' : `:${u.port}`}`;
  } catch {
    return '(SMTP_URL)';
  }
}
