import type { AuthVerdict } from './auth-verdict.js';
import type { Verifier } from './authenticate.js';
import { headerSection, messageKeyOf } from './message-headers.js';
import {
  decideSender,
  needsVerdict,
  readSenderHeaders,
  type SenderDecision,
  type SenderHeaders,
  type SenderPolicy,
} from './sender-policy.js';

/** What the inbox learnt about one message before deciding to deliver, hold or ignore it. */
export interface Screened {
  readonly decision: SenderDecision;
  /** Dedup key (by Message-ID, as the queue's email id). */
  readonly key: string;
  readonly headers: SenderHeaders;
  /** Our own verdict, when one was needed (verify mode, a sender that may post). */
  readonly verdict: AuthVerdict | null;
}

/**
 * Screen one raw message: read its headers, run our own authentication only when the sender
 * could post at all (mail from anyone else is ignored without DNS lookups), then decide.
 * The one place the watcher, backfill and tools share, so they cannot decide differently.
 */
export async function screenMessage(raw: Buffer, policy: SenderPolicy, verify: Verifier): Promise<Screened> {
  const headers = readSenderHeaders(headerSection(raw));
  const verdict = needsVerdict(headers, policy) ? await verify(raw) : null;
  return { decision: decideSender(headers, verdict, policy), key: messageKeyOf(raw), headers, verdict };
}
