import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import type { NotifyReprocess } from './operations.js';
import type { MailStatus } from './views.js';

/**
 * What other parts of isw-ko lend the admin server when they run in this process. Each is
 * optional and typed by the little the server uses, so the server depends on no stage's classes:
 * `Quarantine` and `ImapWatcher` (inbox), the notify stage's routes and queues fit as they are.
 */

/** A held (quarantined) email, as the quarantine lists it. */
export interface HeldMessageInfo {
  readonly id: string;
  readonly ref: string;
  readonly from: string | null;
  readonly subject: string | null;
  readonly code: string;
  readonly reason: string;
  readonly auth: string;
  readonly heldAt: string;
}

/** The inbox's quarantine (`Quarantine` in src/inbox). */
export interface QuarantineProvider {
  list(limit?: number): Promise<readonly HeldMessageInfo[]>;
  /** Hand a held message to the queue as if the inbox had accepted it. */
  release(id: string, by?: string): Promise<unknown>;
}

/** What `/readyz` needs of the IMAP watcher (`ImapWatcher.status()`). */
export interface ImapStatusInfo {
  readonly role: string;
  readonly connected: boolean;
  readonly mailbox: string;
  readonly reconnects: number;
  readonly lastError: { readonly message: string } | null;
}

export interface AdminProviders {
  readonly quarantine?: QuarantineProvider;
  /** The IMAP watcher's status; absent when the inbox is the drop folder. */
  readonly imapStatus?: () => ImapStatusInfo;
  /**
   * The public subscribe/confirm/unsubscribe routes (src/notify/http.ts), already given their
   * options: registered at the server's root, outside `/admin`, with no admin authentication.
   */
  readonly publicRoutes?: FastifyPluginAsync;
  /** Whether a report's email went out (the report page's "발송" stage). */
  readonly mailStatus?: (reportId: string) => Promise<MailStatus | null>;
  /** `reprocess --from notify`: send a report's email again to whoever has not had it. */
  readonly renotify?: NotifyReprocess;
  /** More queues for bull-board (the notify queues), beside the pipeline's own. */
  readonly extraQueues?: readonly Queue[];
}
