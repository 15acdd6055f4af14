import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import { createVerifier, type Verifier } from './authenticate.js';
import type { Deliver } from './drop-folder.js';
import { createImapClient, withDeadline } from './imap-client.js';
import type { AccessTokenProvider } from './oauth2.js';
import { classifyImapError } from './imap-errors.js';
import type { ImapSettings } from './imap-settings.js';
import { SeenMessages } from './mailbox-state.js';
import { messageIdOf, messageKeyFromId } from './message-headers.js';
import { Quarantine } from './quarantine.js';
import { screenMessage } from './screen.js';
import { claimOf, readSenderHeaders, type SenderPolicy } from './sender-policy.js';
import { GenuineMailClock } from './watchdog.js';

export interface BackfillOptions {
  readonly settings: ImapSettings;
  /** Folder to walk; default the watched one (IMAP_MAILBOX). */
  readonly mailbox?: string;
  /** Messages received on or after this day (IMAP SEARCH SINCE: a date, RFC 3501 §6.4.4). */
  readonly since: Date;
  /** Count and screen only: nothing is queued, held or recorded. */
  readonly dryRun: boolean;
  readonly policy: SenderPolicy;
  readonly redis: Redis;
  readonly prefix: string;
  readonly logger: Logger;
  readonly deliver: Deliver;
  readonly verify?: Verifier;
  /** With OAuth2 refresh-token settings: where the access token comes from (`accessTokenProviderFor`). */
  readonly accessToken?: AccessTokenProvider;
  readonly quarantine?: Quarantine;
  /** Called after every message (drive a progress bar with it). */
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** Messages per FETCH. */
  readonly batchSize?: number;
  /** Stop early (Ctrl-C): what was done stays done. */
  readonly signal?: AbortSignal;
}

export interface BackfillProgress {
  /** Messages in the date range. */
  readonly total: number;
  /** Messages looked at so far. */
  readonly done: number;
  /** Queued (or, in a dry run, that would be). */
  readonly enqueued: number;
  /** Already delivered before (same Message-ID). */
  readonly skipped: number;
  readonly held: number;
  readonly ignored: number;
  /** Authentication could not be finished (DNS trouble): run the backfill again later for these. */
  readonly deferred: number;
}

export interface BackfillResult extends BackfillProgress {
  readonly mailbox: string;
  readonly dryRun: boolean;
  readonly elapsedMs: number;
  /** Messages looked at per second. */
  readonly perSecond: number;
  /** True when stopped by the signal before the end. */
  readonly aborted: boolean;
}

const COMMAND_TIMEOUT_MS = 120_000;

/**
 * `isw-ko backfill`: walk older mail in a folder and enqueue what a live watcher would have,
 * idempotently — already delivered Message-IDs are skipped, and the queue's job ids catch the
 * rest — so an operator can fill the board's archive from an existing mailbox.
 *
 * The folder is opened read-only (EXAMINE, RFC 3501 §6.3.2): a backfill never flags, moves or
 * marks anything as seen. Senders are screened exactly as the watcher does; mail that fails
 * authentication is held for an admin. Old mail may fail DKIM because the sender has rotated its
 * keys since (the selector's record is gone): such mail is held, not lost.
 *
 * @throws InboxError when the server cannot be reached or the folder opened.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const mailbox = options.mailbox ?? options.settings.mailbox;
  const log = options.logger.child({ stage: 'backfill', mailbox });
  const verify = options.verify ?? createVerifier();
  const seen = new SeenMessages(options.redis, options.prefix);
  const clock = new GenuineMailClock(options.redis, options.prefix);
  const quarantine =
    options.quarantine ??
    new Quarantine({ redis: options.redis, prefix: options.prefix, logger: log, deliver: options.deliver });
  const batch = options.batchSize ?? 50;
  const started = performance.now();
  const p = { total: 0, done: 0, enqueued: 0, skipped: 0, held: 0, ignored: 0, deferred: 0 };
  const report = (): void => options.onProgress?.({ ...p });

  const token = await options.accessToken?.();
  const client = createImapClient(options.settings, {
    logger: log,
    ...(token === undefined ? {} : { accessToken: token }),
    overrides: { disableAutoIdle: true },
  });
  client.on('error', (err: Error) => {
    log.warn({ err }, 'IMAP connection error during backfill');
  });
  let aborted = false;
  try {
    await withDeadline(client.connect(), COMMAND_TIMEOUT_MS, 'connect');
    const box = await withDeadline(
      client.mailboxOpen(mailbox, { readOnly: true }),
      COMMAND_TIMEOUT_MS,
      'EXAMINE',
    );
    const uidValidity = box.uidValidity.toString();
    const found = await withDeadline(
      client.search({ since: options.since }, { uid: true }),
      COMMAND_TIMEOUT_MS,
      'UID SEARCH',
    );
    const uids = (found === false || found === undefined ? [] : found).sort((a, b) => a - b);
    p.total = uids.length;
    log.info(
      { since: options.since.toISOString(), messages: uids.length, dryRun: options.dryRun },
      'backfill starting',
    );
    report();
    for (let i = 0; i < uids.length; i += batch) {
      if (options.signal?.aborted === true) {
        aborted = true;
        break;
      }
      const chunk = uids.slice(i, i + batch);
      // Headers first: seen and non-allowed mail is settled without downloading it.
      const metas = await withDeadline(
        client.fetchAll(
          chunk,
          { uid: true, internalDate: true, headers: ['message-id', 'from'] },
          { uid: true },
        ),
        COMMAND_TIMEOUT_MS,
        'UID FETCH (headers)',
      );
      const keys = metas.map((m) => {
        const id = messageIdOf(m.headers?.toString('latin1') ?? '');
        return id === null ? null : messageKeyFromId(id);
      });
      const seenFlags = await seen.has(keys.filter((k): k is string => k !== null));
      const seenKeys = new Set(
        keys.filter((k): k is string => k !== null).filter((_, j) => seenFlags[j] === true),
      );
      const wanted: number[] = [];
      const dates = new Map<number, number>();
      metas.forEach((m, j) => {
        const key = keys[j] ?? null;
        if (key !== null && seenKeys.has(key)) {
          p.skipped += 1;
          p.done += 1;
          report();
          return;
        }
        if (claimOf(readSenderHeaders(m.headers?.toString('latin1') ?? ''), options.policy).kind === 'none') {
          p.ignored += 1;
          p.done += 1;
          report();
          return;
        }
        wanted.push(m.uid);
        const d = m.internalDate;
        if (d !== undefined) dates.set(m.uid, d instanceof Date ? d.getTime() : Date.parse(d));
      });
      p.done += chunk.length - metas.length; // expunged meanwhile
      if (wanted.length === 0) continue;
      const full = await withDeadline(
        client.fetchAll(wanted, { uid: true, source: true }, { uid: true }),
        COMMAND_TIMEOUT_MS,
        'UID FETCH (source)',
      );
      for (const msg of full) {
        const raw = msg.source;
        p.done += 1;
        if (raw === undefined) {
          report();
          continue;
        }
        const ref = `imap:${mailbox}/${uidValidity}/${msg.uid}`;
        const screened = await screenMessage(raw, options.policy, verify);
        const d = screened.decision;
        if (d.action === 'accept') {
          p.enqueued += 1;
          if (!options.dryRun) {
            await options.deliver(raw, ref);
            await seen.add(screened.key);
            await clock.recordGenuine(dates.get(msg.uid) ?? Date.now());
          }
        } else if (d.action === 'hold') {
          p.held += 1;
          if (!options.dryRun) {
            await quarantine.hold({
              id: screened.key,
              ref,
              raw,
              from: d.sender,
              messageId: screened.headers.messageId,
              code: d.code,
              reason: d.reason,
              auth: d.auth,
            });
          }
          log.warn(
            { uid: msg.uid, messageId: screened.headers.messageId, auth: d.auth },
            `${options.dryRun ? 'would hold' : 'held'}: ${d.reason}`,
          );
        } else if (d.action === 'defer') {
          p.deferred += 1;
          log.warn(
            { uid: msg.uid, messageId: screened.headers.messageId },
            `${d.reason}; run the backfill again later for it`,
          );
        } else {
          p.ignored += 1;
        }
        report();
      }
    }
  } catch (err) {
    throw classifyImapError(err, { ...options.settings, mailbox });
  } finally {
    try {
      if (!client.isClosed) await withDeadline(client.logout(), 5_000, 'LOGOUT');
    } catch (err) {
      log.debug({ err }, 'logout after backfill failed; closing the connection');
    } finally {
      client.close();
    }
  }
  const elapsedMs = performance.now() - started;
  const result: BackfillResult = {
    ...p,
    mailbox,
    dryRun: options.dryRun,
    elapsedMs,
    perSecond: elapsedMs > 0 ? (p.done * 1000) / elapsedMs : 0,
    aborted,
  };
  log.info(result, 'backfill finished');
  return result;
}
