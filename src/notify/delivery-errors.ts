/**
 * What to do when sending one message fails: a pure decision on the facts nodemailer attaches to its
 * errors (`responseCode`, `command`, `code`, `response`), never on message text. RFC 5321 §4.2.1:
 * a 4yz reply is a transient negative completion (try again later), a 5yz reply a permanent one.
 */

/** The facts of a send failure this module reads; nodemailer's errors have this shape. */
export interface SmtpFailure {
  /** nodemailer's error code: ECONNECTION, ETIMEDOUT, EENVELOPE, EAUTH, … */
  readonly code?: string | undefined;
  /** The SMTP reply code, when the server answered. */
  readonly responseCode?: number | undefined;
  /** The command the reply answered: `CONN`, `EHLO`, `AUTH PLAIN`, `MAIL FROM`, `RCPT TO`, `DATA`. */
  readonly command?: string | undefined;
  /** The server's reply line(s), e.g. "550 5.1.1 <x@example.org>: User unknown". */
  readonly response?: string | undefined;
}

/**
 * - `retry`: transient; the job retries with backoff.
 * - `bounce`: the recipient is refused for good; counts towards BOUNCE_LIMIT.
 * - `reject`: this message is refused for good, not the address (content, policy): no retry, no bounce.
 * - `config`: our side is wrong (auth, sender, TLS): every message will fail alike until an admin acts.
 */
export type DeliveryAction = 'retry' | 'bounce' | 'reject' | 'config';

export interface DeliveryDecision {
  readonly action: DeliveryAction;
  readonly responseCode: number | null;
  /** RFC 3463 enhanced status code, when the reply carried one ("5.1.1"). */
  readonly enhancedCode: string | null;
  /** One line for the subscriber record and the logs: the reply, or what failed. */
  readonly reason: string;
  /**
   * False when the server certainly did not take the message: it answered with an error, or the
   * failure came before DATA. True when the connection broke after the message was handed over and
   * before the reply was read (the RFC 1047 duplicate window): the server may have accepted it.
   */
  readonly mayHaveBeenAccepted: boolean;
}

// Errors that are our configuration: credentials, TLS requirements, file/URL access of the message.
const CONFIG_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ETLS', 'EREQUIRETLS', 'ECONFIG', 'EPROXY']);

/** The RFC 3463 enhanced status code in an SMTP reply ("550 5.1.1 …" → "5.1.1"), or null. */
export function enhancedStatusOf(response: string | undefined): string | null {
  if (response === undefined) return null;
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response.trim());
  return m?.[1] ?? null;
}

function commandOf(failure: SmtpFailure): string {
  const c = (failure.command ?? '').toUpperCase().trim();
  return c.startsWith('AUTH') ? 'AUTH' : c;
}

function reasonOf(failure: SmtpFailure): string {
  const reply = failure.response?.replace(/\s+/g, ' ').trim();
  if (reply !== undefined && reply !== '') return reply.slice(0, 500);
  return (
    [failure.code, failure.command].filter((x) => x !== undefined && x !== '').join(' at ') ||
    'unknown failure'
  );
}

/** Decide what a failed send means (see {@link DeliveryAction}). */
export function classifyDeliveryError(failure: SmtpFailure): DeliveryDecision {
  const responseCode = typeof failure.responseCode === 'number' ? failure.responseCode : null;
  const enhancedCode = enhancedStatusOf(failure.response);
  const command = commandOf(failure);
  const reason = reasonOf(failure);
  const decide = (action: DeliveryAction, mayHaveBeenAccepted = false): DeliveryDecision => ({
    action,
    responseCode,
    enhancedCode,
    reason,
    mayHaveBeenAccepted,
  });

  if (responseCode !== null) {
    // The server answered: whatever it said, it did not take this message.
    if (responseCode >= 400 && responseCode < 500) return decide('retry');
    if (responseCode >= 500 && responseCode < 600) {
      // 503 is a bad sequence of commands: a session glitch, fine on a new connection.
      if (responseCode === 503) return decide('retry');
      if (command === 'AUTH' || responseCode === 530 || responseCode === 535 || responseCode === 538) {
        return decide('config');
      }
      // A sender refused at MAIL FROM is our MAIL_FROM (or our reputation), not the subscriber.
      if (command === 'MAIL FROM') return decide('config');
      if (command === 'RCPT TO') {
        // RFC 5321 §4.5.3.1.10: 552 "too many recipients / storage" at RCPT is to be treated as 452.
        if (responseCode === 552) return decide('retry');
        // Policy refusals at RCPT (5.7.x: blocked, not authorised) are about us, not the mailbox.
        if (enhancedCode?.startsWith('5.7.') === true) return decide('reject');
        return decide('bounce');
      }
      // At DATA: only address and mailbox statuses (RFC 3463 5.1.x, 5.2.x) count against the
      // subscriber; content or policy (5.6.x, 5.7.x, none) refuses this message only.
      if (enhancedCode !== null && /^5\.[12]\./.test(enhancedCode)) return decide('bounce');
      return decide('reject');
    }
    // 2yz/3yz where something else was expected: a confused server; try again.
    return decide('retry');
  }

  const code = (failure.code ?? '').toUpperCase();
  if (CONFIG_CODES.has(code)) return decide('config');
  // No recipient or sender, or a message larger than the server's SIZE: this message, for good.
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return decide('reject');
  // Failures before anything reached a server: name resolution, or nodemailer refusing to start.
  if (code === 'EDNS' || command === 'API') return decide('retry');
  // No reply: the connection broke. nodemailer reports that as `CONN` whatever the phase, so the
  // message may have been handed over and accepted with the "250" lost on the way (RFC 1047):
  // retry, but flagged as possibly delivered.
  return decide('retry', true);
}
