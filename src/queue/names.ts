import { createHash } from 'node:crypto';

/** The pipeline's stages, one BullMQ queue each, in the order work moves. */
export const QUEUE_NAMES = ['ingest', 'summarize', 'publish'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Where an email came from, for logs and the admin pages. */
export interface EmailOrigin {
  readonly kind: 'drop-folder' | 'imap' | 'cli';
  /** File name, IMAP mailbox/uid, … */
  readonly ref: string;
}

/** Job payloads: plain JSON, one typed map. The big things (raw email, report) live in the store. */
export interface JobDataMap {
  ingest: { readonly emailId: string; readonly origin: EmailOrigin };
  summarize: { readonly reportId: string; readonly force?: boolean };
  publish: { readonly reportId: string; readonly target: string };
}

export type JobData<Q extends QueueName> = JobDataMap[Q];

/**
 * Deterministic job ids, so adding the same work twice is a no-op in BullMQ (no `:` — BullMQ
 * reserves it — and never a plain integer).
 */
export const jobIds = {
  ingest: (emailId: string): string => `ingest-${emailId}`,
  summarize: (reportId: string): string => `summarize-${reportId}`,
  publish: (reportId: string, target: string): string => `publish-${reportId}-${target}`,
};

/** A short stable id: the first 24 hex digits of sha256. */
export function stableId(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex').slice(0, 24);
}

/**
 * The id of an email before it is parsed: from its Message-ID header (so the same message fetched
 * twice is one job), or a hash of its bytes when it has none.
 */
export function emailIdOf(raw: Buffer): string {
  const messageId = messageIdHeader(raw);
  return messageId === null ? `h${stableId(raw)}` : emailIdOfMessageId(messageId);
}

/** The email id of a message known only by its Message-ID (one too large to fetch, say). */
export function emailIdOfMessageId(messageId: string): string {
  return `m${stableId(messageId.replace(/\s+/g, '').toLowerCase())}`;
}

/** The Message-ID header of raw bytes (header section only, unfolded), or null. */
export function messageIdHeader(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString('latin1');
  const m = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  const value = m?.[1]?.replace(/\s+/g, '').trim();
  return value === undefined || value === '' ? null : value;
}

/** The report id: from the Message-ID when the report has one, else its content fingerprint. */
export function reportIdOf(report: { messageId: string | null; fingerprint: string }): string {
  return report.messageId === null
    ? `f${report.fingerprint.slice(0, 24)}`
    : `m${stableId(report.messageId.toLowerCase())}`;
}
