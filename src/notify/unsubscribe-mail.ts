import libmime from 'libmime';
import type { Logger } from '../shared/logger.js';
import type { SubscriberStore } from './subscribers.js';
import { readToken, tokenFromUnsubscribeSubject, verifyToken } from './tokens.js';

/** What became of a mail sent to the List-Unsubscribe `mailto:` address. */
export type UnsubscribeMailOutcome =
  /** No unsubscribe token in its Subject: not for us (the inbox treats it as any other mail). */
  | 'none'
  /** The token's subscriber no longer gets digests. */
  | 'unsubscribed'
  /** They had unsubscribed already. */
  | 'already'
  /** A token that does not verify (forged, for another address, or its subscriber is gone). */
  | 'invalid';

export interface UnsubscribeMailDeps {
  readonly subscribers: SubscriberStore;
  readonly tokenSecret: string;
  readonly clock: () => number;
  readonly logger: Logger;
}

/**
 * Honour the `mailto:` half of List-Unsubscribe (RFC 2369): the mail client sends a message whose
 * Subject is `unsubscribe <token>` (perhaps behind "Re:", or RFC 2047-encoded by a client that
 * localises the prefix, e.g. "회신:"). The token is checked exactly as the HTTPS link's is — only
 * the subscriber it was issued to can be unsubscribed by it, so who sent the mail does not matter.
 *
 * @param subject The raw Subject header value (encoded-words are decoded here).
 */
export async function unsubscribeByMail(
  subject: string,
  deps: UnsubscribeMailDeps,
): Promise<UnsubscribeMailOutcome> {
  const token = tokenFromUnsubscribeSubject(decodeSubject(subject));
  if (token === null) return 'none';
  const log = deps.logger.child({ stage: 'notify' });
  const claims = readToken(token);
  const subscriber = claims === null ? null : await deps.subscribers.get(claims.subscriberId);
  try {
    // A token of an unknown id is checked against a dummy address, as the web route does.
    verifyToken(token, 'unsubscribe', subscriber?.address ?? 'nobody@invalid.invalid', deps.tokenSecret, {
      now: deps.clock(),
    });
  } catch (err) {
    log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'unsubscribe mail with an invalid token; ignored',
    );
    return 'invalid';
  }
  if (subscriber === null) {
    log.warn(
      { subscriberId: claims?.subscriberId },
      'unsubscribe mail for a subscriber who is gone; ignored',
    );
    return 'invalid';
  }
  const { changed } = await deps.subscribers.unsubscribe(subscriber.id, 'mail');
  log.info({ subscriberId: subscriber.id, changed }, 'unsubscribed by mail (List-Unsubscribe mailto:)');
  return changed ? 'unsubscribed' : 'already';
}

function decodeSubject(subject: string): string {
  const unfolded = subject.replace(/\r?\n[ \t]+/g, ' ');
  try {
    return libmime.decodeWords(unfolded);
  } catch {
    return unfolded; // a broken encoded-word: the token may still stand in plain text beside it
  }
}
