import { EventEmitter } from 'node:events';
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import { createVerifier, type Verifier } from './authenticate.js';
import type { Deliver } from './drop-folder.js';
import { createImapClient, withDeadline } from './imap-client.js';
import { backoffFor, classifyImapError, reconnectDelay } from './imap-errors.js';
import { describeImap, mailboxIdOf, settingsWarnings, type ImapSettings } from './imap-settings.js';
import { InboxError } from './inbox-error.js';
import { MailboxState, SeenMessages } from './mailbox-state.js';
import { headerValue, messageIdOf, messageKeyFromId } from './message-headers.js';
import type { AccessTokenProvider } from './oauth2.js';
import { Quarantine } from './quarantine.js';
import { screenMessage } from './screen.js';
import { claimOf, readSenderHeaders, type SenderPolicy } from './sender-policy.js';
import { WatcherLock } from './watcher-lock.js';
import { evaluateWatchdog, GenuineMailClock, type WatchdogStatus } from './watchdog.js';

/** Tunables with production defaults; tests shorten them. */
export interface WatcherTiming {
  /** First reconnect delay after a dropped connection; doubles up to `reconnectMaxMs`. */
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** Backoff after a refused login, bad TLS or a missing mailbox (configuration trouble). */
  readonly slowRetryBaseMs: number;
  readonly slowRetryMaxMs: number;
  /** Expiry of the single-watcher lock: a crashed holder is replaced within this long. */
  readonly lockTtlMs: number;
  /** How often a standby process tries to take the lock over. */
  readonly lockRetryMs: number;
  /** Longest wait for one IMAP command before the connection is taken for dead. */
  readonly commandTimeoutMs: number;
  /**
   * IDLE is broken and re-issued this often. RFC 2177 asks clients to re-issue IDLE at least
   * every 29 minutes (servers may drop a client idle for 30); home routers and cloud NATs forget
   * quiet TCP flows after 5–15 minutes, so stay well below both.
   */
  readonly idleRestartMs: number;
  /**
   * Quiet time after our own commands before IDLE starts again (imapflow `autoIdleDelay`, 15 s by
   * default). Mail arriving in that gap is only announced once IDLE starts, so it adds to pickup
   * latency; it can be short because a catch-up holds imapflow's mailbox lock, and imapflow never
   * slips an IDLE between commands while the lock is held.
   */
  readonly autoIdleDelayMs: number;
  /** A message whose authentication hit a temporary DNS error is tried again after this long… */
  readonly deferRetryMs: number;
  /** …this many times, then held for an admin. */
  readonly maxDefers: number;
  /** After a failed hand-over to the queue (Redis down), try again after this long. */
  readonly deliverRetryMs: number;
  /** On the very first run, mail younger than this is caught up; older mail is left to backfill. */
  readonly firstRunLookbackMs: number;
  /** Larger messages are skipped with a warning (no newsletter is this big). */
  readonly maxMessageBytes: number;
  /** UIDs per FETCH of message metadata. */
  readonly fetchBatch: number;
  /** How often the watchdog is evaluated (and logged when it trips). */
  readonly watchdogCheckMs: number;
}

/** Mail from an allowed sender over the size limit (see {@link ImapWatcherOptions.tooLarge}). */
export interface TooLargeMessage {
  readonly uid: number;
  /** `imap:<mailbox>/<uidvalidity>/<uid>`, as delivered mail's origin. */
  readonly ref: string;
  readonly messageId: string | null;
  readonly size: number;
  readonly limit: number;
}

export const DEFAULT_TIMING: WatcherTiming = {
  reconnectBaseMs: 1_000,
  reconnectMaxMs: 60_000,
  slowRetryBaseMs: 30_000,
  slowRetryMaxMs: 10 * 60_000,
  lockTtlMs: 30_000,
  lockRetryMs: 10_000,
  commandTimeoutMs: 60_000,
  idleRestartMs: 4 * 60_000,
  autoIdleDelayMs: 25,
  deferRetryMs: 60_000,
  maxDefers: 10,
  deliverRetryMs: 5_000,
  firstRunLookbackMs: 3 * 24 * 3_600_000,
  maxMessageBytes: 50 * 1024 * 1024,
  fetchBatch: 200,
  watchdogCheckMs: 10 * 60_000,
};

export interface ImapWatcherOptions {
  readonly settings: ImapSettings;
  readonly policy: SenderPolicy;
  /** An ioredis connection (shared with the rest of the process is fine). */
  readonly redis: Redis;
  /** Key prefix (REDIS_PREFIX); the inbox keeps its keys under `<prefix>:inbox:`. */
  readonly prefix: string;
  readonly logger: Logger;
  /** Hands one accepted email to the queue; resolves once its `ingest` job is safely queued. */
  readonly deliver: Deliver;
  /** Our own DKIM/SPF/DMARC check; default mailauth with the system's DNS. */
  readonly verify?: Verifier;
  /**
   * Mail to the digests' List-Unsubscribe `mailto:` address (RFC 2369), when that address lands in
   * this mailbox: given the raw Subject of mail from senders not allowed to post, it unsubscribes
   * the token's subscriber and answers true, or answers false when the Subject carries no valid
   * token. Mail answered true is marked processed like a delivered report.
   */
  readonly unsubscribeMail?: (subject: string) => Promise<boolean>;
  /**
   * Told of mail from an allowed sender that is over `maxMessageBytes` (and so not fetched): the
   * app lists it with the rejected emails, where an admin sees it. The message is left unflagged,
   * so `isw-ko backfill` takes it once the limit is raised.
   */
  readonly tooLarge?: (info: TooLargeMessage) => Promise<void>;
  /** Where held mail goes; default a {@link Quarantine} on the same Redis and prefix. */
  readonly quarantine?: Quarantine;
  /**
   * An OAuth2 access token for each (re)connect, for providers whose tokens expire hourly
   * (`accessTokenProviderFor`); asked for a fresh one after the server refused the last login.
   */
  readonly accessToken?: AccessTokenProvider;
  readonly timing?: Partial<WatcherTiming>;
  /** Clock, for the watchdog (tests move it). */
  readonly now?: () => number;
}

/** What `isw-ko doctor` and `/readyz` show about the inbox. */
export interface ImapWatcherStatus {
  readonly mode: 'imap';
  /** user@host:port/mailbox (TLS mode). */
  readonly mailbox: string;
  /** `active`: this process watches; `standby`: another process holds the mailbox lock. */
  readonly role: 'starting' | 'active' | 'standby' | 'stopped';
  readonly connected: boolean;
  /** How new mail is noticed on the current connection. */
  readonly push: 'idle' | 'polling' | null;
  readonly uidValidity: string | null;
  readonly lastUid: number | null;
  readonly connectedSince: string | null;
  /** Last time the mailbox was fully caught up. */
  readonly lastCheckAt: string | null;
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly hint: string | null;
    readonly at: string;
  } | null;
  /** Reconnects since start. */
  readonly reconnects: number;
  readonly lastGenuineAt: string | null;
  readonly watchdog: WatchdogStatus;
  readonly watchdogTripped: boolean;
}

/** Events, for tests and the admin pages; none of them is `error` (nothing throws through them). */
export interface ImapWatcherEvents {
  connected: [{ uidValidity: string; push: 'idle' | 'polling' }];
  disconnected: [{ error: InboxError | null }];
  'lock-acquired': [];
  standby: [];
  'lock-lost': [{ why: string }];
  'uidvalidity-changed': [{ from: string; to: string }];
  delivered: [{ uid: number; key: string; ref: string }];
  held: [{ uid: number; key: string; code: string; reason: string }];
  ignored: [{ uid: number; reason: string }];
  /** A List-Unsubscribe `mailto:` request, handled and marked processed. */
  unsubscribe: [{ uid: number }];
  skipped: [{ uid: number; why: 'marked' | 'seen' | 'too-large' | 'gone' }];
  deferred: [{ uid: number; reason: string }];
  'caught-up': [{ lastUid: number }];
  'watchdog-tripped': [WatchdogStatus];
}

/** Raised inside a catch-up when the queue did not take a message: not an IMAP problem. */
class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
}

type Trigger = 'connect' | 'exists' | 'poll' | 'retry';

/**
 * Watches one IMAP mailbox and hands every genuine ISW email to `deliver`, missing nothing.
 *
 * - New mail is noticed through IDLE (RFC 2177) within a second, or by polling every
 *   `pollMs` where the server has no IDLE or it is turned off; the poll also runs beside IDLE as
 *   a safety net and liveness check (an IDLE that goes quiet on a dead connection is noticed).
 * - The mailbox's UIDVALIDITY and the last handled UID live in Redis; every (re)connect catches up
 *   on all UIDs after it (RFC 4549 §4: the disconnected client's resynchronisation). A changed
 *   UIDVALIDITY means the old UIDs are void: the whole mailbox is rescanned, deduplicated by
 *   Message-ID.
 * - Per message, in order: screen the sender (allowlist + DKIM/SPF/DMARC), deliver, mark it
 *   processed (keyword or move), record its Message-ID, then advance the last UID. A crash
 *   anywhere before the last step repeats the message, and the queue's job id makes that harmless.
 * - Connection drops, server restarts and refused logins are survived with backoff reconnects
 *   (a new ImapFlow each time: instances are single-use); `status()` shows them.
 * - Only one process per mailbox acts (a Redis lock with expiry); the others wait as standby.
 */
export class ImapWatcher extends EventEmitter<ImapWatcherEvents> {
  private readonly o: ImapWatcherOptions;
  private readonly t: WatcherTiming;
  private readonly log: Logger;
  private readonly state: MailboxState;
  private readonly seen: SeenMessages;
  private readonly clock: GenuineMailClock;
  private readonly lock: WatcherLock;
  private readonly verify: Verifier;
  readonly quarantine: Quarantine;
  private readonly now: () => number;

  private client: ImapFlow | null = null;
  private loop: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;

  private role: ImapWatcherStatus['role'] = 'starting';
  private connected = false;
  private push: 'idle' | 'polling' | null = null;
  private connectedSince: number | null = null;
  private lastCheckAt: number | null = null;
  private lastError: ImapWatcherStatus['lastError'] = null;
  private reconnects = 0;
  private uidValidity: string | null = null;
  private lastUid: number | null = null;
  private lastGenuineAt: number | null = null;
  private watchingSince: number;
  private watchdogWasTripped = false;

  /** Why the current connection ended (the first error noted during it). */
  private sessionError: InboxError | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private readonly defers = new Map<number, number>();

  constructor(options: ImapWatcherOptions) {
    super();
    this.o = options;
    this.t = { ...DEFAULT_TIMING, ...options.timing };
    this.now = options.now ?? Date.now;
    this.watchingSince = this.now();
    this.log = options.logger.child({ stage: 'inbox', mailbox: options.settings.mailbox });
    const mailboxId = mailboxIdOf(options.settings);
    this.state = new MailboxState(options.redis, options.prefix, mailboxId);
    this.seen = new SeenMessages(options.redis, options.prefix);
    this.clock = new GenuineMailClock(options.redis, options.prefix);
    this.lock = new WatcherLock({
      redis: options.redis,
      prefix: options.prefix,
      mailboxId,
      ttlMs: this.t.lockTtlMs,
      logger: this.log,
    });
    this.verify = options.verify ?? createVerifier();
    this.quarantine =
      options.quarantine ??
      new Quarantine({
        redis: options.redis,
        prefix: options.prefix,
        logger: this.log,
        deliver: options.deliver,
      });
  }

  /**
   * Start watching in the background and return. Connection trouble is never thrown from here:
   * it is retried, logged and shown in {@link status}.
   */
  async start(): Promise<void> {
    if (this.loop !== null || this.closed) return;
    for (const warning of settingsWarnings(this.o.settings, this.o.policy)) this.log.warn(warning);
    this.watchingSince = await this.clock.startWatching(this.now());
    this.lastGenuineAt = (await this.clock.read()).lastGenuineAt;
    this.log.info(
      {
        imap: describeImap(this.o.settings),
        verify: this.o.policy.mode,
        processed: this.o.settings.processed,
      },
      'IMAP inbox starting',
    );
    this.loop = this.supervise().catch((err: unknown) => {
      // supervise() catches everything it expects; reaching here is a bug, but the process
      // must hear about it rather than silently stop watching.
      this.log.fatal({ err }, 'the IMAP watcher loop stopped unexpectedly');
      this.role = 'stopped';
    });
    this.watchdogTimer = setInterval(() => void this.checkWatchdog(), this.t.watchdogCheckMs);
    this.watchdogTimer.unref();
    // Say it at start-up too: a bot restarted after a long silence should not wait for the timer.
    await this.checkWatchdog();
  }

  /** A snapshot for `doctor` and `/readyz`. */
  status(): ImapWatcherStatus {
    const watchdog = this.watchdog();
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return {
      mode: 'imap',
      mailbox: describeImap(this.o.settings),
      role: this.role,
      connected: this.connected,
      push: this.connected ? this.push : null,
      uidValidity: this.uidValidity,
      lastUid: this.lastUid,
      connectedSince: iso(this.connectedSince),
      lastCheckAt: iso(this.lastCheckAt),
      lastError: this.lastError,
      reconnects: this.reconnects,
      lastGenuineAt: iso(this.lastGenuineAt),
      watchdog,
      watchdogTripped: watchdog.tripped,
    };
  }

  private watchdog(): WatchdogStatus {
    return evaluateWatchdog({
      lastGenuineAt: this.lastGenuineAt,
      watchingSince: this.watchingSince,
      now: this.now(),
      thresholdMs: this.o.settings.watchdogMs,
    });
  }

  /** Re-read the clock (another process may be the active watcher) and log a trip once. */
  async checkWatchdog(): Promise<WatchdogStatus> {
    try {
      const facts = await this.clock.read();
      this.lastGenuineAt = facts.lastGenuineAt;
      if (facts.watchingSince !== null) this.watchingSince = facts.watchingSince;
    } catch (err) {
      this.log.debug({ err }, 'could not read the watchdog clock; using the last known values');
    }
    const status = this.watchdog();
    if (status.tripped && !this.watchdogWasTripped) {
      this.log.warn({ watchdog: status }, `watchdog: ${status.message}`);
      this.emit('watchdog-tripped', status);
    } else if (!status.tripped && this.watchdogWasTripped) {
      this.log.info({ watchdog: status }, 'watchdog: genuine ISW mail is arriving again');
    }
    this.watchdogWasTripped = status.tripped;
    return status;
  }

  // -------------------------------------------------------------------------------------------
  // The supervisor: lock, session, backoff, again.

  private async supervise(): Promise<void> {
    let attempt = 0;
    let previousAuthRefused = false;
    let announcedStandby = false;
    while (!this.closed) {
      if (!this.lock.held) {
        let got = false;
        try {
          got = await this.lock.tryAcquire();
        } catch (err) {
          this.log.warn({ err }, 'could not reach Redis for the watcher lock; will retry');
        }
        if (!got) {
          this.role = 'standby';
          if (!announcedStandby) {
            const holder = await this.lock.holder().catch((err: unknown) => {
              this.log.debug({ err }, 'could not read who holds the watcher lock');
              return null;
            });
            this.log.info({ holder }, 'another process watches this mailbox; standing by');
            this.emit('standby');
            announcedStandby = true;
          }
          await this.sleep(this.t.lockRetryMs);
          continue;
        }
        announcedStandby = false;
        this.role = 'active';
        this.log.info('watcher lock acquired: this process watches the mailbox');
        this.emit('lock-acquired');
        this.lock.keepAlive((why) => {
          this.log.warn({ why }, 'watcher lock lost; stopping work on this mailbox');
          this.emit('lock-lost', { why });
          this.client?.close();
        });
      }
      const outcome = await this.runSession(previousAuthRefused);
      previousAuthRefused = outcome.error?.code === 'IMAP_AUTH';
      if (this.stopping()) break;
      if (!this.lock.held) continue; // lost the lock: go and stand by, no backoff
      if (outcome.reachedMailbox) attempt = 0;
      const policy = backoffFor(
        outcome.error,
        { baseMs: this.t.reconnectBaseMs, maxMs: this.t.reconnectMaxMs },
        { baseMs: this.t.slowRetryBaseMs, maxMs: this.t.slowRetryMaxMs },
      );
      const delay = reconnectDelay(attempt, policy);
      attempt += 1;
      this.reconnects += 1;
      const fields = { retryInMs: delay, attempt, code: outcome.error?.code };
      if (outcome.error !== null && (outcome.error.kind === 'user' || attempt > 3)) {
        this.log.error(fields, `IMAP: ${outcome.error.describe()}`);
      } else {
        this.log.warn(
          fields,
          outcome.error === null
            ? 'IMAP connection closed; reconnecting'
            : `IMAP: ${outcome.error.message}; reconnecting`,
        );
      }
      await this.sleep(delay);
    }
    this.role = 'stopped';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  /** One connection's life: connect, open, catch up, follow, until it closes. */
  private async runSession(
    authRefused = false,
  ): Promise<{ reachedMailbox: boolean; error: InboxError | null }> {
    const s = this.o.settings;
    this.sessionError = null;
    let reachedMailbox = false;
    let client: ImapFlow;
    try {
      const token =
        this.o.accessToken === undefined ? undefined : await this.o.accessToken({ fresh: authRefused });
      client = createImapClient(s, {
        logger: this.log,
        ...(token === undefined ? {} : { accessToken: token }),
        overrides: {
          disableAutoIdle: !s.idle,
          autoIdleDelay: this.t.autoIdleDelayMs,
          maxIdleTime: this.t.idleRestartMs,
        },
      });
    } catch (err) {
      return { reachedMailbox, error: this.noteError(err) };
    }
    const closed = new Promise<void>((resolve) => client.once('close', resolve));
    client.on('error', (err: Error) => {
      // imapflow emits `error` for failures outside any command (a socket reset while idling);
      // the `close` that follows ends the session and the supervisor reconnects.
      this.noteError(err);
      this.log.debug({ err }, 'IMAP connection error');
    });
    client.on('exists', () => {
      this.trigger('exists');
    });
    this.client = client;
    try {
      await withDeadline(client.connect(), this.t.commandTimeoutMs, 'connect');
      const push = await this.openMailbox(client);
      reachedMailbox = true;
      this.connected = true;
      this.push = push;
      this.connectedSince = this.now();
      this.lastError = null;
      this.log.info(
        { push, uidValidity: this.uidValidity, lastUid: this.lastUid },
        'IMAP mailbox open; catching up',
      );
      this.emit('connected', { uidValidity: this.uidValidity ?? '', push });
      this.pollTimer = setInterval(() => {
        this.trigger('poll');
      }, s.pollMs);
      this.pollTimer.unref();
      this.trigger('connect');
      await closed;
    } catch (err) {
      this.noteError(err);
    } finally {
      this.connected = false;
      this.connectedSince = null;
      if (this.pollTimer !== null) clearInterval(this.pollTimer);
      this.pollTimer = null;
      if (this.retryTimer !== null) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      if (!client.isClosed) client.close();
      // Let a catch-up that was cut off by the close finish failing before the next session.
      await this.running;
      this.client = null;
      this.emit('disconnected', { error: this.sessionError });
    }
    return { reachedMailbox, error: this.sessionError };
  }

  /** Classify, remember for `status()`, and make it the reason the current session ends. */
  private noteError(err: unknown): InboxError {
    const e = classifyImapError(err, this.o.settings);
    this.sessionError ??= e;
    this.lastError = {
      code: e.code,
      message: e.message,
      hint: e.hint ?? null,
      at: new Date(this.now()).toISOString(),
    };
    return e;
  }

  /**
   * SELECT the mailbox, check that marking processed mail will work, and reconcile the stored
   * position with the mailbox's UIDVALIDITY. Returns how new mail will be noticed.
   */
  private async openMailbox(client: ImapFlow): Promise<'idle' | 'polling'> {
    const s = this.o.settings;
    const box = await withDeadline(client.mailboxOpen(s.mailbox), this.t.commandTimeoutMs, 'SELECT');
    if (s.processed.kind === 'flag') {
      // RFC 3501 §7.1: PERMANENTFLAGS lists what may be stored; `\*` means new keywords may be
      // created. Outlook.com, for one, allows no custom keywords.
      const permanent = box.permanentFlags;
      if (permanent !== undefined && !permanent.has('\\*') && !permanent.has(s.processed.flag)) {
        throw new InboxError(
          'IMAP_KEYWORD',
          'user',
          `the server does not allow the keyword ${s.processed.flag} in ${s.mailbox}`,
          {
            hint: 'set IMAP_PROCESSED=move:FOLDER (e.g. move:ISW/Processed) or IMAP_PROCESSED=flag:\\Seen',
            details: { permanentFlags: [...permanent] },
          },
        );
      }
    } else {
      await withDeadline(client.mailboxCreate(s.processed.folder), this.t.commandTimeoutMs, 'CREATE');
    }
    const idle = s.idle && client.capabilities.has('IDLE');
    // Without IDLE our own poll timer is the only checker; imapflow's NOOP loop would only
    // duplicate it. (imapflow reads this option each time it considers idling.)
    if (!idle) client.options.disableAutoIdle = true;

    const uidValidity = box.uidValidity.toString();
    const stored = await this.state.load();
    if (stored.uidValidity === null) {
      // First run for this mailbox: catch up on recent mail only; older mail is the operator's
      // call (`isw-ko backfill`), so pointing the bot at a years-old inbox does not flood the board.
      const since = new Date(this.now() - this.t.firstRunLookbackMs);
      const recent = await withDeadline(
        client.search({ since }, { uid: true }),
        this.t.commandTimeoutMs,
        'SEARCH',
      );
      const start =
        recent !== false && recent !== undefined && recent.length > 0
          ? recent.reduce((a, b) => Math.min(a, b)) - 1
          : box.uidNext - 1;
      await this.state.reset(uidValidity, Math.max(0, start));
      this.log.info(
        { uidValidity, since: since.toISOString(), startAfterUid: start },
        'first run on this mailbox: catching up on recent mail; use `isw-ko backfill` for older mail',
      );
      this.lastUid = Math.max(0, start);
    } else if (stored.uidValidity !== uidValidity) {
      // RFC 3501 §2.3.1.1: a new UIDVALIDITY voids every stored UID. Rescan everything; the
      // Message-ID record keeps what was delivered before from being delivered again.
      this.log.warn(
        { from: stored.uidValidity, to: uidValidity },
        'UIDVALIDITY changed: rescanning the whole mailbox, deduplicated by Message-ID',
      );
      this.emit('uidvalidity-changed', { from: stored.uidValidity, to: uidValidity });
      await this.state.reset(uidValidity, 0);
      this.lastUid = 0;
    } else {
      this.lastUid = stored.lastUid;
    }
    this.uidValidity = uidValidity;
    return idle ? 'idle' : 'polling';
  }

  // -------------------------------------------------------------------------------------------
  // Catching up: coalesced, one pass at a time per connection.

  private trigger(why: Trigger): void {
    if (!this.connected || this.closed || !this.lock.held) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.log.trace({ why }, 'catch-up triggered');
    this.running = this.catchUpLoop().finally(() => {
      this.running = null;
    });
  }

  // Read through methods: these flags change while a loop awaits, which the compiler's narrowing
  // of a property checked earlier in the same function cannot see.
  private stopping(): boolean {
    return this.closed;
  }

  private wantsAgain(): boolean {
    return this.again;
  }

  private canAct(client: ImapFlow): boolean {
    return !this.closed && this.lock.held && this.client === client && this.connected;
  }

  private async catchUpLoop(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    do {
      this.again = false;
      try {
        const complete = await this.catchUpOnce(client);
        if (complete) {
          this.lastCheckAt = this.now();
          this.emit('caught-up', { lastUid: this.lastUid ?? 0 });
        }
      } catch (err) {
        if (err instanceof DeliveryFailed) {
          this.log.warn(
            { err: err.cause },
            `could not hand the email to the queue; trying again in ${this.t.deliverRetryMs} ms`,
          );
          this.scheduleRetry(this.t.deliverRetryMs);
          return;
        }
        // An IMAP failure mid-way: the connection is suspect. Close it; the supervisor
        // reconnects and the catch-up resumes from the stored last UID.
        const e = this.noteError(err);
        this.log.warn({ code: e.code, err }, 'catch-up failed; reconnecting');
        client.close();
        return;
      }
    } while (this.wantsAgain() && this.canAct(client));
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.trigger('retry');
    }, ms);
    this.retryTimer.unref();
  }

  /**
   * Hand on every message after the stored last UID. Returns true when it got to the end, false
   * when it stopped early on purpose (a deferred message, the lock lost, closing).
   */
  private async catchUpOnce(client: ImapFlow): Promise<boolean> {
    const t = this.t;
    const lock = await withDeadline(
      client.getMailboxLock(this.o.settings.mailbox),
      t.commandTimeoutMs,
      'mailbox lock',
    );
    // While we hold imapflow's mailbox lock it does not slip an IDLE between our commands.
    try {
      const uidValidity = this.uidValidity;
      if (uidValidity === null) return false;
      for (;;) {
        const last = this.lastUid ?? 0;
        // RFC 3501 §6.4.8: `n:*` with n above the highest UID still matches the highest
        // message, so the result is filtered, not trusted.
        const found = await withDeadline(
          client.search({ uid: `${last + 1}:*` }, { uid: true }),
          t.commandTimeoutMs,
          'UID SEARCH',
        );
        const fresh = (found === false || found === undefined ? [] : found)
          .filter((u) => u > last)
          .sort((a, b) => a - b);
        if (fresh.length === 0) return true;
        for (let i = 0; i < fresh.length; i += t.fetchBatch) {
          const chunk = fresh.slice(i, i + t.fetchBatch);
          const metas = await withDeadline(
            client.fetchAll(
              chunk,
              {
                uid: true,
                flags: true,
                size: true,
                internalDate: true,
                headers: ['message-id', 'from', 'subject'],
              },
              { uid: true },
            ),
            t.commandTimeoutMs,
            'UID FETCH (metadata)',
          );
          const byUid = new Map(metas.map((m) => [m.uid, m]));
          for (const uid of chunk) {
            if (!this.canAct(client)) return false;
            const meta = byUid.get(uid);
            if (meta === undefined) {
              this.emit('skipped', { uid, why: 'gone' }); // expunged between SEARCH and FETCH
            } else if (!(await this.handle(client, meta, uidValidity))) {
              return false;
            }
            await this.state.advance(uidValidity, uid);
            this.lastUid = uid;
          }
        }
      }
    } finally {
      lock.release();
    }
  }

  /** One message. Returns false when it must be tried again later (deferred). */
  private async handle(client: ImapFlow, meta: FetchMessageObject, uidValidity: string): Promise<boolean> {
    const s = this.o.settings;
    const t = this.t;
    const uid = meta.uid;
    const ref = `imap:${s.mailbox}/${uidValidity}/${uid}`;
    const log = this.log.child({ uid });
    if (s.processed.kind === 'flag' && meta.flags?.has(s.processed.flag) === true) {
      this.emit('skipped', { uid, why: 'marked' }); // delivered before a crash cut off the UID record
      return true;
    }
    const head = meta.headers?.toString('latin1') ?? '';
    const headerId = messageIdOf(head);
    const headerKey = headerId === null ? null : messageKeyFromId(headerId);
    if (headerKey !== null && (await this.seen.has([headerKey]))[0] === true) {
      log.debug({ messageId: headerId }, 'already delivered (same Message-ID); marking it processed');
      await this.markProcessed(client, uid);
      this.emit('skipped', { uid, why: 'seen' });
      return true;
    }
    // Mail nobody allowed to post is ignored from its headers alone, without downloading it.
    const claim = claimOf(readSenderHeaders(head), this.o.policy);
    if (claim.kind === 'none') {
      const subject = headerValue(head, 'subject');
      if (
        subject !== null &&
        this.o.unsubscribeMail !== undefined &&
        (await this.o.unsubscribeMail(subject))
      ) {
        await this.markProcessed(client, uid);
        this.emit('unsubscribe', { uid });
        return true;
      }
      log.debug({ messageId: headerId, reason: claim.reason }, 'ignored: not from an allowed sender');
      this.emit('ignored', { uid, reason: claim.reason });
      return true;
    }
    if ((meta.size ?? 0) > t.maxMessageBytes) {
      log.warn(
        { size: meta.size, limit: t.maxMessageBytes, messageId: headerId },
        'message too large for a newsletter; skipped (listed with the rejected emails)',
      );
      try {
        await this.o.tooLarge?.({
          uid,
          ref,
          messageId: headerId ?? null,
          size: meta.size ?? 0,
          limit: t.maxMessageBytes,
        });
      } catch (err) {
        log.warn({ err }, 'could not list the message too large with the rejected emails');
      }
      this.emit('skipped', { uid, why: 'too-large' });
      return true;
    }
    const msg = await withDeadline(
      client.fetchOne(String(uid), { uid: true, source: true }, { uid: true }),
      t.commandTimeoutMs,
      'UID FETCH (source)',
    );
    if (msg === false || msg === undefined || msg.source === undefined) {
      this.emit('skipped', { uid, why: 'gone' });
      return true;
    }
    const raw = msg.source;
    const screened = await screenMessage(raw, this.o.policy, this.verify);
    const d = screened.decision;
    const messageId = screened.headers.messageId;
    switch (d.action) {
      case 'accept': {
        try {
          await this.o.deliver(raw, ref);
        } catch (err) {
          throw new DeliveryFailed('deliver failed', { cause: err });
        }
        // Only now, with the ingest job safely queued, is the message marked processed.
        await this.markProcessed(client, uid);
        await this.seen.add(screened.key);
        const arrived = internalDateMs(meta) ?? this.now();
        this.lastGenuineAt = await this.clock.recordGenuine(arrived);
        this.defers.delete(uid);
        log.info({ messageId, sender: d.sender, kind: d.kind, auth: d.auth }, 'email queued');
        this.emit('delivered', { uid, key: screened.key, ref });
        if (this.watchdogWasTripped) void this.checkWatchdog();
        return true;
      }
      case 'hold': {
        await this.quarantine.hold({
          id: screened.key,
          ref,
          raw,
          from: d.sender,
          messageId,
          code: d.code,
          reason: d.reason,
          auth: d.auth,
        });
        log.warn(
          { messageId, sender: d.sender, code: d.code, auth: d.auth },
          `held for an admin: ${d.reason}`,
        );
        this.emit('held', { uid, key: screened.key, code: d.code, reason: d.reason });
        return true;
      }
      case 'ignore': {
        log.debug({ messageId, reason: d.reason }, 'ignored');
        this.emit('ignored', { uid, reason: d.reason });
        return true;
      }
      case 'defer': {
        const n = (this.defers.get(uid) ?? 0) + 1;
        this.defers.set(uid, n);
        if (n >= t.maxDefers) {
          this.defers.delete(uid);
          const reason = `${d.reason}, ${n} times in a row`;
          await this.quarantine.hold({
            id: screened.key,
            ref,
            raw,
            from: d.sender,
            messageId,
            code: 'AUTH_FAILED',
            reason,
            auth: d.auth,
          });
          log.warn({ messageId, auth: d.auth }, `held for an admin: ${reason}`);
          this.emit('held', { uid, key: screened.key, code: 'AUTH_FAILED', reason });
          return true;
        }
        log.warn(
          { messageId, auth: d.auth, attempt: n },
          `${d.reason}; trying again in ${t.deferRetryMs} ms`,
        );
        this.emit('deferred', { uid, reason: d.reason });
        this.scheduleRetry(t.deferRetryMs);
        return false;
      }
    }
  }

  /** Set the keyword, or move the message (RFC 6851 MOVE; imapflow falls back to COPY+EXPUNGE). */
  private async markProcessed(client: ImapFlow, uid: number): Promise<void> {
    const p = this.o.settings.processed;
    const t = this.t.commandTimeoutMs;
    const done =
      p.kind === 'flag'
        ? await withDeadline(client.messageFlagsAdd([uid], [p.flag], { uid: true }), t, 'UID STORE')
        : await withDeadline(client.messageMove([uid], p.folder, { uid: true }), t, 'UID MOVE');
    if (done === false) {
      // The email is queued and its Message-ID is recorded either way, so nothing is delivered
      // twice; only the mailbox does not show it as handled. Worth a warning, not a stop.
      this.log.warn({ uid, processed: p }, 'the server refused to mark the message processed');
    }
  }

  /**
   * Stop: no new work, let the message in hand finish, log out, release the lock. Every step runs
   * even if one fails; safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.wake?.();
      const steps: [string, () => Promise<unknown>][] = [
        [
          'timers',
          () => {
            if (this.watchdogTimer !== null) clearInterval(this.watchdogTimer);
            this.watchdogTimer = null;
            return Promise.resolve();
          },
        ],
        [
          'current catch-up',
          () =>
            withDeadline(
              this.running ?? Promise.resolve(),
              this.t.commandTimeoutMs,
              'finishing the catch-up',
            ),
        ],
        [
          'IMAP logout',
          async () => {
            const client = this.client;
            if (client === null || client.isClosed) return;
            try {
              await withDeadline(client.logout(), 5_000, 'LOGOUT');
            } finally {
              client.close();
            }
          },
        ],
        ['supervisor', () => this.loop ?? Promise.resolve()],
        ['lock release', () => this.lock.release()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          this.log.warn({ err, step: name }, 'error while closing the IMAP watcher; continuing');
        }
      }
      this.role = 'stopped';
    })();
    return this.closing;
  }
}

function internalDateMs(meta: FetchMessageObject): number | null {
  const d = meta.internalDate;
  if (d === undefined) return null;
  const ms = d instanceof Date ? d.getTime() : Date.parse(d);
  return Number.isNaN(ms) ? null : ms;
}
