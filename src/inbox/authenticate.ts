import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import type { AuthVerdict, DkimOutcome, DmarcOutcome, SpfOutcome } from './auth-verdict.js';
import { TIMED_OUT, within } from '../shared/timeout.js';

/** A DNS lookup as mailauth calls it: `(name, 'TXT')` → records (TXT as arrays of strings). */
export type DnsResolver = DNSResolver;

/** Checks one raw message; never throws for a bad message, only returns a worse verdict. */
export type Verifier = (raw: Buffer) => Promise<AuthVerdict>;

export interface VerifierOptions {
  /** DNS resolver; default: the system's (node:dns). Tests inject a stub serving their keys. */
  readonly resolver?: DnsResolver;
  /** The authserv-id written into our verdicts (RFC 8601 §2.5). */
  readonly authservId?: string;
  /**
   * Upper bound for one message's checks. DNS can hang; past this the verdict is `temperror`
   * and the message is tried again later rather than judged on half the facts.
   */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Our own sender authentication with mailauth: DKIM (RFC 6376), SPF (RFC 7208), DMARC
 * (RFC 7489).
 *
 * The message comes from a mailbox, not an SMTP session, so the client IP and MAIL FROM are
 * unknown: `trustReceived` takes them from the topmost Received header (the one our own
 * provider's MX wrote, RFC 5321 §4.4) and from Return-Path. Without such a header SPF has no IP to
 * check and reports `none`; DKIM and DMARC do not depend on it. ARC and BIMI are skipped: the
 * decision does not use them and they cost DNS lookups.
 */
export function createVerifier(options: VerifierOptions = {}): Verifier {
  const authservId = options.authservId ?? 'isw-ko';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (raw: Buffer): Promise<AuthVerdict> => {
    try {
      const result = await within(
        authenticate(raw, {
          trustReceived: true,
          mta: authservId,
          disableArc: true,
          disableBimi: true,
          ...(options.resolver === undefined ? {} : { resolver: options.resolver }),
        }),
        timeoutMs,
      );
      return result === TIMED_OUT
        ? temporaryVerdict(authservId, `timed out after ${timeoutMs} ms`)
        : toVerdict(result, authservId);
    } catch (err) {
      // mailauth reports DNS trouble inside its results; a throw is unexpected (a malformed
      // message it could not read at all). Treat it as "could not authenticate", not as a pass.
      return {
        source: 'mailauth',
        authservId,
        dkim: [],
        spf: null,
        dmarc: { result: 'permerror', policy: null, domain: null },
        note: `unreadable: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  };
}

function temporaryVerdict(authservId: string, note: string): AuthVerdict {
  return {
    source: 'mailauth',
    authservId,
    dkim: [],
    spf: null,
    dmarc: { result: 'temperror', policy: null, domain: null },
    note,
  };
}

/** mailauth's result, reduced to what the policy needs. */
export function toVerdict(result: AuthenticateResult, authservId: string): AuthVerdict {
  const dkim: DkimOutcome[] = [];
  for (const r of result.dkim.results) {
    // A message without signatures gets one entry with no signing domain: that is "none".
    if (r.signingDomain === undefined || r.signingDomain === '') continue;
    dkim.push({
      domain: r.signingDomain.toLowerCase(),
      selector: r.selector ?? null,
      result: r.status.result,
      aligned: typeof r.status.aligned === 'string' ? true : r.status.aligned === false ? false : null,
    });
  }
  let spf: SpfOutcome | null = null;
  if (result.spf !== false) {
    // No client IP (no usable Received header): mailauth says temperror, but nothing will ever
    // make it pass — it is "none" for our purposes, not a reason to try again.
    // (Nor is the sender known then: mailauth checked a made-up `postmaster@undefined`.)
    const noIp = nonEmpty(result.spf['client-ip']) === null;
    spf = noIp
      ? { domain: null, result: result.spf.status.result === 'temperror' ? 'none' : result.spf.status.result }
      : { domain: nonEmpty(result.spf.domain)?.toLowerCase() ?? null, result: result.spf.status.result };
  }
  let dmarc: DmarcOutcome | null = null;
  if (result.dmarc !== false) {
    const from = result.dmarc.status.header?.from;
    dmarc = {
      result: result.dmarc.status.result,
      // Typed as a string, but absent at run time when the domain publishes no DMARC record.
      policy: nonEmpty(result.dmarc.policy),
      domain: typeof from === 'string' ? from.toLowerCase() : null,
    };
  }
  return { source: 'mailauth', authservId, dkim, spf, dmarc };
}

function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
