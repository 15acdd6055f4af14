// Test support: a real SMTP server (smtp-server) on a loopback port chosen at run time. It records
// what it accepts, and answers 4xx/5xx on command, per stage and recipient.
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** A message the server accepted: recorded when it answers "250" to the end of DATA. */
export interface ReceivedMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: Buffer;
  /** The Message-ID header without angle brackets, or null. */
  readonly messageId: string | null;
  readonly receivedAt: number;
}

/** Where a scripted answer applies: the MAIL FROM, RCPT TO, or end-of-DATA reply. */
export type SmtpStage = 'mail' | 'rcpt' | 'data';

/** A scripted answer: `code` and `message` instead of success, for matching addresses, `times` times. */
export interface SmtpRule {
  readonly stage: SmtpStage;
  /** Lower-case address to match (the recipient at rcpt/data, the sender at mail); all when absent. */
  readonly address?: string;
  readonly code: number;
  /** The reply text after the code, e.g. "5.1.1 User unknown". */
  readonly message: string;
  /** How many times the rule applies; default forever. */
  readonly times?: number;
}

export interface TestSmtpServer {
  readonly host: string;
  readonly port: number;
  /** smtp://127.0.0.1:<port> for SMTP_URL. */
  readonly url: string;
  /** Accepted messages, in order (empty when started with `keepMessages: false`). */
  readonly messages: readonly ReceivedMessage[];
  /** Messages accepted so far (kept or not). */
  readonly accepted: number;
  /** Accepted messages per recipient (lower-case), kept even with `keepMessages: false`. */
  acceptedFor(address: string): number;
  /** Add a scripted answer (rules are tried in the order added). */
  respond(rule: SmtpRule): void;
  clearRules(): void;
  /** Resolves when at least `count` messages have been accepted; rejects after `timeoutMs`. */
  waitForAccepted(count: number, timeoutMs?: number): Promise<void>;
  /** Stop listening and drop connections. Safe to call twice. */
  close(): Promise<void>;
}

export interface TestSmtpServerOptions {
  /** Keep the raw bytes of every message (default true; the bench counts only). */
  readonly keepMessages?: boolean;
  /** Wait this long before answering the end of DATA (slows a run down so a test can interrupt it). */
  readonly dataDelayMs?: number;
}

interface LiveRule extends SmtpRule {
  remaining: number;
}

function messageIdOf(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 65536) : end).toString('latin1');
  const m = /^message-id:\s*<([^>]+)>/im.exec(head);
  return m?.[1] ?? null;
}

function smtpError(rule: SmtpRule): Error & { responseCode: number } {
  return Object.assign(new Error(rule.message), { responseCode: rule.code });
}

/** Start the server on 127.0.0.1 and a free port. No TLS, no auth: tests only. */
export async function startTestSmtpServer(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const keep = options.keepMessages ?? true;
  const messages: ReceivedMessage[] = [];
  const perRecipient = new Map<string, number>();
  const rules: LiveRule[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let accepted = 0;

  const ruleFor = (stage: SmtpStage, addresses: readonly string[]): LiveRule | undefined => {
    const rule = rules.find(
      (r) =>
        r.stage === stage && r.remaining > 0 && (r.address === undefined || addresses.includes(r.address)),
    );
    if (rule !== undefined) rule.remaining -= 1;
    return rule;
  };
  const recipients = (session: SMTPServerSession): string[] =>
    session.envelope.rcptTo.map((a) => a.address.toLowerCase());

  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: nothing to upgrade, so nodemailer does not try STARTTLS.
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    // close() waits for open connections this long (default 30 s) before cutting them.
    closeTimeout: 500,
    // Enhanced status codes (RFC 3463) in replies, as real servers send them.
    hideENHANCEDSTATUSCODES: false,
    onMailFrom(address, _session, callback) {
      const rule = ruleFor('mail', [address.address.toLowerCase()]);
      callback(rule === undefined ? null : smtpError(rule));
    },
    onRcptTo(address, _session, callback) {
      const rule = ruleFor('rcpt', [address.address.toLowerCase()]);
      callback(rule === undefined ? null : smtpError(rule));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => {
        callback(err);
      });
      stream.on('end', () => {
        const to = recipients(session);
        const finish = (): void => {
          const rule = ruleFor('data', to);
          if (rule !== undefined) {
            callback(smtpError(rule));
            return;
          }
          const raw = Buffer.concat(chunks);
          accepted += 1;
          for (const r of to) perRecipient.set(r, (perRecipient.get(r) ?? 0) + 1);
          if (keep) {
            messages.push({
              from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
              to,
              raw,
              messageId: messageIdOf(raw),
              receivedAt: Date.now(),
            });
          }
          callback(null, 'Ok: queued');
          events.emit('accepted', accepted);
        };
        if (options.dataDelayMs === undefined) finish();
        else setTimeout(finish, options.dataDelayMs).unref();
      });
    },
  });
  server.on('error', (err) => {
    // A client dropping its connection (a killed worker) is expected in the crash tests.
    events.emit('server-error', err);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  let closing: Promise<void> | null = null;

  return {
    host: '127.0.0.1',
    port: address.port,
    url: `smtp://127.0.0.1:${address.port}`,
    messages,
    get accepted() {
      return accepted;
    },
    acceptedFor: (a) => perRecipient.get(a.toLowerCase()) ?? 0,
    respond: (rule) => {
      rules.push({
        ...rule,
        ...(rule.address === undefined ? {} : { address: rule.address.toLowerCase() }),
        remaining: rule.times ?? Infinity,
      });
    },
    clearRules: () => {
      rules.length = 0;
    },
    waitForAccepted: (count, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        if (accepted >= count) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          events.off('accepted', onAccepted);
          reject(
            new Error(`the SMTP server accepted ${accepted} messages, not ${count}, within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        const onAccepted = (n: number): void => {
          if (n >= count) {
            clearTimeout(timer);
            events.off('accepted', onAccepted);
            resolve();
          }
        };
        events.on('accepted', onAccepted);
      }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      })),
  };
}
