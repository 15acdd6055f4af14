import type { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import type { Logger } from '../shared/logger.js';
import type { Deliver } from './drop-folder.js';
import { InboxError } from './inbox-error.js';
import type { HoldCode } from './sender-policy.js';

/** A held message as the admin pages list it (without its bytes). */
export interface HeldMessage {
  /** The message's key (its email id in the pipeline once released). */
  readonly id: string;
  /** Where it was found, e.g. `imap:INBOX/1795334940/42`. */
  readonly ref: string;
  readonly from: string | null;
  readonly subject: string | null;
  readonly messageId: string | null;
  readonly code: HoldCode;
  readonly reason: string;
  /** The authentication verdict, Authentication-Results style. */
  readonly auth: string;
  readonly heldAt: string;
  readonly releasedAt: string | null;
  readonly releasedBy: string | null;
}

export interface HoldInput {
  readonly id: string;
  readonly ref: string;
  readonly raw: Buffer;
  readonly from: string | null;
  readonly messageId: string | null;
  readonly code: HoldCode;
  readonly reason: string;
  readonly auth: string;
}

export interface QuarantineOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly logger: Logger;
  /** Where a released message goes: the same `deliver` the inbox uses. */
  readonly deliver: Deliver;
}

/**
 * Mail that claimed to be ISW but failed authentication: kept (never posted, never deleted),
 * listed for admins with the verdict, and released by hand — a release hands the original bytes
 * to `deliver`, exactly as if the inbox had accepted it. Holding is idempotent by message id, so
 * a rescan does not list the same message twice.
 */
export class Quarantine {
  private readonly p: string;

  constructor(private readonly options: QuarantineOptions) {
    this.p = `${options.prefix}:inbox:held`;
  }

  private recordKey(id: string): string {
    return `${this.p}:${id}`;
  }

  /** Keep a message. Returns false when it was already held (or released) before. */
  async hold(input: HoldInput): Promise<boolean> {
    const key = this.recordKey(input.id);
    if ((await this.options.redis.exists(key)) === 1) return false;
    const subject = await subjectOf(input.raw, this.options.logger);
    const now = new Date();
    const created = await this.options.redis.hsetnx(key, 'raw', input.raw);
    if (created === 0) return false;
    await this.options.redis
      .multi()
      .hset(key, {
        ref: input.ref,
        from: input.from ?? '',
        subject: subject ?? '',
        messageId: input.messageId ?? '',
        code: input.code,
        reason: input.reason,
        auth: input.auth,
        heldAt: now.toISOString(),
      })
      .zadd(this.p, now.getTime(), input.id)
      .exec();
    return true;
  }

  /** Held (not yet released) messages, newest first. */
  async list(limit = 100): Promise<HeldMessage[]> {
    const ids = await this.options.redis.zrevrange(this.p, 0, Math.max(0, limit - 1));
    const out: HeldMessage[] = [];
    for (const id of ids) {
      const held = await this.get(id);
      if (held !== null) out.push(held);
    }
    return out;
  }

  /** How many messages are waiting for an admin. */
  count(): Promise<number> {
    return this.options.redis.zcard(this.p);
  }

  /** One held (or released) message, without its bytes; null when unknown. */
  async get(id: string): Promise<HeldMessage | null> {
    const f = await this.options.redis.hmget(
      this.recordKey(id),
      'ref',
      'from',
      'subject',
      'messageId',
      'code',
      'reason',
      'auth',
      'heldAt',
      'releasedAt',
      'releasedBy',
    );
    const [ref, from, subject, messageId, code, reason, auth, heldAt, releasedAt, releasedBy] = f;
    if (ref === null || ref === undefined || heldAt === null || heldAt === undefined) return null;
    const orNull = (v: string | null | undefined): string | null =>
      v === null || v === undefined || v === '' ? null : v;
    return {
      id,
      ref,
      from: orNull(from),
      subject: orNull(subject),
      messageId: orNull(messageId),
      code: (code ?? 'AUTH_FAILED') as HoldCode,
      reason: reason ?? '',
      auth: auth ?? '',
      heldAt,
      releasedAt: orNull(releasedAt),
      releasedBy: orNull(releasedBy),
    };
  }

  /** The original bytes of a held message. */
  async raw(id: string): Promise<Buffer | null> {
    return this.options.redis.hgetBuffer(this.recordKey(id), 'raw');
  }

  /**
   * Release a held message: hand it to `deliver` (the queue), then take it off the held list.
   * Delivering is idempotent, so releasing twice (or a crash in between) is harmless.
   *
   * @param by Who released it, for the record (an admin's name).
   * @throws InboxError `HELD_NOT_FOUND` when no message with that id was held.
   */
  async release(id: string, by = 'admin'): Promise<HeldMessage> {
    const raw = await this.raw(id);
    if (raw === null) {
      throw new InboxError('HELD_NOT_FOUND', 'user', `no held message with id ${id}`, {
        hint: 'list held messages with `isw-ko quarantine list` or on the admin quarantine page and use one of their ids',
      });
    }
    const before = await this.get(id);
    await this.options.deliver(raw, before?.ref ?? `held:${id}`);
    const at = new Date().toISOString();
    await this.options.redis
      .multi()
      .hset(this.recordKey(id), { releasedAt: at, releasedBy: by })
      .zrem(this.p, id)
      .exec();
    this.options.logger.info({ messageId: before?.messageId, id, by }, 'held message released to the queue');
    const after = await this.get(id);
    if (after === null) throw new Error(`held message ${id} vanished while being released`);
    return after;
  }
}

/** The decoded Subject (RFC 2047 encoded-words), for the held list. */
async function subjectOf(raw: Buffer, logger: Logger): Promise<string | null> {
  try {
    const parsed = await simpleParser(raw, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipImageLinks: true,
    });
    return parsed.subject ?? null;
  } catch (err) {
    // An unreadable message is still held (its bytes are kept); only its subject is unknown.
    logger.debug({ err }, 'could not read the subject of a held message');
    return null;
  }
}
