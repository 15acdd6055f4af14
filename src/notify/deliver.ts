import type { Logger } from '../shared/logger.js';
import { classifyDeliveryError, type SmtpFailure } from './delivery-errors.js';
import type { DeliveryMode, DigestEntry } from './digest.js';
import type { LinkBuilder } from './links.js';
import { domainOf, type MailAddress, type Mailer, type OutgoingMail } from './mailer.js';
import { NotifyError } from './notify-error.js';
import type { NotifyStore } from './notify-store.js';
import type { DigestRenderCache } from './render-cache.js';
import { personalPart, prepareDigest, type PreparedDigest } from './encoded-body.js';
import { escapeAttribute, personaliseDigest, renderDigest } from './render-digest.js';
import type { Clock } from './schedule.js';
import type { SubscriberStore } from './subscribers.js';
import type { NotifyTemplates } from './templates.js';

/** Loads the reports of a digest (the queue side implements it with its Store). */
export interface DigestSource {
  /**
   * The entries of these reports, in any order; reports that are missing (deleted, not summarised)
   * are left out.
   */
  entries(reportIds: readonly string[]): Promise<DigestEntry[]>;
}

/** One (digest, subscriber) send: what the fan-out decided, as the send job carries it. */
export interface SendOrder {
  readonly digestId: string;
  readonly subscriberId: string;
  readonly mode: DeliveryMode;
  readonly reportIds: readonly string[];
  /** When the digest goes out (ms): its date line. The same for every subscriber of a digest. */
  readonly sentAt: number;
}

export interface DeliverDeps {
  readonly subscribers: SubscriberStore;
  readonly notifyStore: NotifyStore;
  readonly source: DigestSource;
  readonly mailer: Mailer;
  readonly templates: NotifyTemplates;
  readonly links: LinkBuilder;
  readonly renderCache: DigestRenderCache;
  readonly from: MailAddress;
  /** DIGEST_TIME_ZONE: the date line. */
  readonly timeZone: string;
  readonly bounceLimit: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type DeliverOutcome =
  | {
      readonly state: 'sent';
      readonly messageId: string;
      readonly response: string;
      /** An earlier attempt had claimed this send and not finished: this copy may be a second one. */
      readonly possibleDuplicate: boolean;
    }
  /** SMTP had already accepted this digest for this subscriber: nothing done. */
  | { readonly state: 'already-sent' }
  /** The subscriber was removed or is not active any more. */
  | { readonly state: 'skipped'; readonly reason: string };

/** The name the List-Id header carries (RFC 2919). */
export const LIST_NAME = 'ISW 브리핑';

/**
 * One subscriber's copy of a rendered digest: the per-subscriber links, the List-Unsubscribe headers,
 * and a Message-ID derived from digest and subscriber (the same one on every attempt).
 */
export function composeDigestMail(
  rendered: PreparedDigest,
  subscriber: { readonly id: string; readonly address: string; readonly name: string | null },
  digestId: string,
  links: { readonly unsubscribeUrl: string; readonly unsubscribeMailto: string | null },
  from: MailAddress,
): OutgoingMail {
  const domain = domainOf(from.address);
  const body = personaliseDigest(rendered, { unsubscribeUrl: links.unsubscribeUrl });
  return {
    from,
    to: { name: subscriber.name, address: subscriber.address },
    subject: rendered.subject,
    html: body.html,
    text: body.text,
    messageId: `notify-${digestId}-${subscriber.id}@${domain}`,
    unsubscribe: { url: links.unsubscribeUrl, mailto: links.unsubscribeMailto },
    listId: { id: `briefing.${domain}`, name: LIST_NAME },
    ...(rendered.encoded === null
      ? {}
      : {
          encodedParts: {
            text: personalPart(rendered.encoded.text, links.unsubscribeUrl),
            html: personalPart(rendered.encoded.html, escapeAttribute(links.unsubscribeUrl)),
          },
        }),
  };
}

/**
 * Send one digest to one subscriber, at most once per SMTP acceptance:
 *
 * 1. One atomic Redis script checks the "sent" marker, checks the subscriber is still active, and
 *    claims the send (a "sending" marker naming this attempt).
 * 2. Render (once per digest per process, see DigestRenderCache) and personalise.
 * 3. Hand the message to SMTP.
 * 4. Only after SMTP has accepted it ("250"), write the "sent" marker and drop the claim.
 *
 * The crash window, and the choice made: a crash between the server's "250" and step 4 leaves no
 * marker, so the retried job sends again — at-least-once. The alternative, writing the marker
 * before sending, turns the same crash into a digest never sent (at-most-once), and its window is
 * the whole SMTP transaction instead of one Redis round trip. No client can close the window:
 * SMTP has no two-phase commit (RFC 1047, "Duplicate messages and SMTP"). What we do instead: the
 * retry sees the earlier attempt's unfinished claim, sends with the same Message-ID (so mail stores
 * that collapse duplicates, Gmail among them, show one), logs a warning and counts it in the
 * digest's `ambiguous` counter, so every possible duplicate is accounted for.
 *
 * @throws NotifyError `SMTP_TRANSIENT` (retry with backoff), `SMTP_RECIPIENT_REJECTED` (counted as a
 *   bounce), `SMTP_MESSAGE_REJECTED`, `SMTP_CONFIG`, `REPORT_NOT_FOUND`, `TEMPLATE_INVALID`,
 *   `OUTBOX_UNWRITABLE`
 */
export async function deliverDigest(
  order: SendOrder,
  claim: string,
  deps: DeliverDeps,
): Promise<DeliverOutcome> {
  const { digestId, subscriberId } = order;
  const log = deps.logger.child({ stage: 'notify', digestId, subscriberId });
  const subscriberKey = deps.subscribers.keys.subscriber(subscriberId);
  const begin = await deps.notifyStore.beginSend(digestId, subscriberId, subscriberKey, claim);
  if (begin.state === 'sent') {
    await deps.notifyStore.count(digestId, 'alreadySent');
    log.debug('already accepted by SMTP for this digest; nothing to do');
    return { state: 'already-sent' };
  }
  if (begin.state === 'skip') {
    await deps.notifyStore.count(digestId, 'skipped');
    const reason = begin.status === null ? 'subscriber removed' : `subscriber is ${begin.status}`;
    log.debug({ reason }, 'not sent');
    return { state: 'skipped', reason };
  }
  const possibleDuplicate = begin.priorClaim !== null;
  if (possibleDuplicate) {
    await deps.notifyStore.count(digestId, 'ambiguous');
    log.warn(
      { priorClaim: begin.priorClaim },
      'an earlier attempt claimed this send and never recorded it (crash?); sending again with the same Message-ID — a duplicate is possible (RFC 1047)',
    );
  }

  let mail: OutgoingMail;
  try {
    const rendered = await deps.renderCache.get(`${digestId}|${order.reportIds.join(',')}`, async () => {
      const entries = await deps.source.entries(order.reportIds);
      if (entries.length === 0) {
        throw new NotifyError('REPORT_NOT_FOUND', `none of the reports of ${digestId} is in the store`, {
          details: { reportIds: order.reportIds },
        });
      }
      // Rendered, inlined and encoded once per digest per process; each copy only swaps its links.
      return prepareDigest(
        renderDigest(deps.templates, {
          entries,
          mode: order.mode,
          sentAt: order.sentAt,
          timeZone: deps.timeZone,
        }),
      );
    });
    const subscriber = {
      id: subscriberId,
      address: begin.subscriber.address ?? '',
      name:
        begin.subscriber.name === undefined || begin.subscriber.name === '' ? null : begin.subscriber.name,
    };
    const unsubscribe = deps.links.unsubscribeLinks(subscriber, deps.clock());
    mail = composeDigestMail(
      rendered,
      subscriber,
      digestId,
      { unsubscribeUrl: unsubscribe.url, unsubscribeMailto: unsubscribe.mailto },
      deps.from,
    );
  } catch (err) {
    // Nothing was sent: the claim must not make the retry look like a possible duplicate.
    await deps.notifyStore.releaseClaim(digestId, subscriberId);
    throw err;
  }

  let response: string;
  try {
    response = (await deps.mailer.send(mail)).response;
  } catch (err) {
    throw await failure(err, order, deps, log);
  }
  await deps.notifyStore.finishSend(
    digestId,
    subscriberId,
    subscriberKey,
    JSON.stringify({
      at: new Date(deps.clock()).toISOString(),
      messageId: mail.messageId,
      response: response.slice(0, 200),
    }),
  );
  log.debug({ messageId: mail.messageId }, 'sent');
  return { state: 'sent', messageId: mail.messageId, response, possibleDuplicate };
}

/** Turn a send failure into the NotifyError that says what to do, after recording its effects. */
async function failure(err: unknown, order: SendOrder, deps: DeliverDeps, log: Logger): Promise<NotifyError> {
  const { digestId, subscriberId } = order;
  if (err instanceof NotifyError) {
    await deps.notifyStore.releaseClaim(digestId, subscriberId);
    return err;
  }
  const decision = classifyDeliveryError(smtpFailureOf(err));
  if (!decision.mayHaveBeenAccepted) await deps.notifyStore.releaseClaim(digestId, subscriberId);
  const details = { ...decision, digestId, subscriberId };
  switch (decision.action) {
    case 'retry':
      return new NotifyError('SMTP_TRANSIENT', `SMTP did not take the message: ${decision.reason}`, {
        cause: err,
        details,
      });
    case 'bounce': {
      const { count, status } = await deps.subscribers.recordBounce(
        subscriberId,
        decision.reason,
        deps.bounceLimit,
      );
      await deps.notifyStore.count(digestId, 'bounced');
      log.warn(
        { responseCode: decision.responseCode, bounceCount: count, status },
        `recipient refused: ${decision.reason}`,
      );
      return new NotifyError('SMTP_RECIPIENT_REJECTED', `the recipient was refused: ${decision.reason}`, {
        cause: err,
        details: { ...details, bounceCount: count, status },
      });
    }
    case 'reject':
      await deps.notifyStore.count(digestId, 'failed');
      return new NotifyError('SMTP_MESSAGE_REJECTED', `the message was refused: ${decision.reason}`, {
        cause: err,
        details,
      });
    case 'config':
      return new NotifyError('SMTP_CONFIG', `the SMTP server refuses us: ${decision.reason}`, {
        cause: err,
        details,
      });
  }
}

/** The SMTP facts of a thrown value (nodemailer's errors carry them), read defensively. */
function smtpFailureOf(err: unknown): SmtpFailure {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    code: str(e.code),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    command: str(e.command),
    response: str(e.response),
  };
}
