import addressparser from 'nodemailer/lib/addressparser';
import { summarizeVerdict, type AuthVerdict } from './auth-verdict.js';
import { verdictFromHeaders } from './authentication-results.js';
import { headerValues, messageIdOf } from './message-headers.js';

/**
 * Who may post to the board — a pure decision: raw headers and an authentication verdict in,
 * accept / hold / defer / ignore out, with the reason. No I/O, so every rule is unit-tested.
 */

/**
 * - `verify`: our own DKIM (RFC 6376) / SPF (RFC 7208) / DMARC (RFC 7489) check with mailauth;
 * - `trust-header`: the Authentication-Results header (RFC 8601) of a trusted receiving server;
 * - `off`: no check at all (trusted setups; warned about loudly at start-up).
 */
export type VerificationMode = 'verify' | 'trust-header' | 'off';

export interface SenderPolicy {
  readonly mode: VerificationMode;
  /** Lower-case From domains (subdomains included) and exact From addresses allowed to post. */
  readonly allowlist: readonly string[];
  /** Lower-case From-rewrite domains (Constant Contact's `ccsend.com`, subdomains included). */
  readonly rewriteDomains: readonly string[];
  /** Lower-case addresses of operators whose forwards are accepted. */
  readonly trustedForwarders: readonly string[];
  /** Lower-case authserv-ids whose Authentication-Results are trusted (`trust-header`). */
  readonly trustedAuthservIds: readonly string[];
}

/** The few header fields the decision needs. */
export interface SenderHeaders {
  /** The mailboxes of the From field(s), groups flattened. */
  readonly from: readonly { readonly name: string; readonly address: string }[];
  /** How many From fields the message has (RFC 5322 allows one). */
  readonly fromFields: number;
  /** Every Authentication-Results value, topmost first. */
  readonly authenticationResults: readonly string[];
  readonly messageId: string | null;
}

/** Read {@link SenderHeaders} from a raw header section. */
export function readSenderHeaders(head: string): SenderHeaders {
  const fromValues = headerValues(head, 'from');
  const from = fromValues.flatMap((v) =>
    addressparser(v, { flatten: true })
      .filter((a) => a.address !== '')
      .map((a) => ({ name: a.name, address: a.address.toLowerCase() })),
  );
  return {
    from,
    fromFields: fromValues.length,
    authenticationResults: headerValues(head, 'authentication-results'),
    messageId: messageIdOf(head),
  };
}

/** What the From field claims the message is, before any authentication. */
export type SenderClaim =
  /** From an allowlisted sender; `authDomain` is the domain that must authenticate. */
  | {
      readonly kind: 'isw';
      readonly address: string;
      readonly authDomain: string;
      readonly via: 'direct' | 'rewrite';
    }
  /** From a trusted operator forwarding a report. */
  | { readonly kind: 'forward'; readonly address: string; readonly authDomain: string }
  /** Claims to be an allowed sender, but in a shape a genuine message never has. */
  | { readonly kind: 'malformed'; readonly address: string | null; readonly reason: string }
  /** Not ours. */
  | { readonly kind: 'none'; readonly address: string | null; readonly reason: string };

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function underDomain(domain: string, parent: string): boolean {
  return domain === parent || domain.endsWith(`.${parent}`);
}

/** True when an address matches an allowlist entry (an address exactly, a domain with its subdomains). */
export function allowlisted(address: string, allowlist: readonly string[]): boolean {
  const a = address.toLowerCase();
  return allowlist.some((entry) => (entry.includes('@') ? a === entry : underDomain(domainOf(a), entry)));
}

/**
 * Every address a Constant Contact From rewrite may stand for. Constant Contact rewrites
 * `name@domain` to `name-domain@sharedN.ccsend.com` when the sender's own domain does not
 * authenticate its mail; the dash that separates the two parts cannot be told from a dash inside
 * them, so every split that leaves a dotted domain is a candidate.
 */
export function rewriteCandidates(localPart: string): string[] {
  const out: string[] = [];
  for (let i = localPart.indexOf('-'); i > 0; i = localPart.indexOf('-', i + 1)) {
    const name = localPart.slice(0, i);
    const domain = localPart.slice(i + 1);
    if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(domain)) out.push(`${name}@${domain}`.toLowerCase());
  }
  return out;
}

/** Classify the From field against the allowlist, the rewrite domains and the forwarders. */
export function claimOf(headers: SenderHeaders, policy: SenderPolicy): SenderClaim {
  const first = headers.from[0];
  if (first === undefined) return { kind: 'none', address: null, reason: 'no From address' };
  const claims = headers.from.map((f) => singleClaim(f.address, policy));
  if (headers.from.length > 1 || headers.fromFields > 1) {
    // RFC 7489 §6.6.1: with several authors there is no single domain to authenticate; a
    // message that names ISW among several authors is a spoofing shape, not a newsletter.
    const named = claims.find((c) => c.kind !== 'none');
    return named === undefined
      ? { kind: 'none', address: first.address, reason: 'several From addresses, none allowed' }
      : { kind: 'malformed', address: named.address, reason: 'several From addresses (RFC 7489 §6.6.1)' };
  }
  return claims[0] ?? { kind: 'none', address: first.address, reason: 'no From address' };
}

function singleClaim(address: string, policy: SenderPolicy): SenderClaim {
  const domain = domainOf(address);
  if (allowlisted(address, policy.allowlist))
    return { kind: 'isw', address, authDomain: domain, via: 'direct' };
  if (policy.rewriteDomains.some((d) => underDomain(domain, d))) {
    const candidates = rewriteCandidates(address.slice(0, address.lastIndexOf('@')));
    // Every reading must be allowed: otherwise `x-evil-understandingwar.org@…` (really
    // x@evil-understandingwar.org) would pass as x-evil@understandingwar.org.
    if (candidates.length > 0 && candidates.every((c) => allowlisted(c, policy.allowlist))) {
      return { kind: 'isw', address, authDomain: domain, via: 'rewrite' };
    }
  }
  if (policy.trustedForwarders.includes(address)) return { kind: 'forward', address, authDomain: domain };
  return { kind: 'none', address, reason: `sender ${address} is not on the allowlist` };
}

/** True when the decision needs our own mailauth verdict (verify mode, a sender that may post). */
export function needsVerdict(headers: SenderHeaders, policy: SenderPolicy): boolean {
  if (policy.mode !== 'verify') return false;
  const kind = claimOf(headers, policy).kind;
  return kind === 'isw' || kind === 'forward';
}

/** Why a message is held for an admin instead of posted. */
export type HoldCode = 'AUTH_FAILED' | 'NO_TRUSTED_HEADER' | 'NOT_VERIFIED' | 'MULTIPLE_FROM';

export type SenderDecision =
  | {
      readonly action: 'accept';
      /** `isw`: straight from ISW (or its Constant Contact rewrite); `forward`: a trusted operator's forward. */
      readonly kind: 'isw' | 'forward';
      readonly sender: string;
      readonly reason: string;
      readonly auth: string;
    }
  | {
      readonly action: 'hold';
      readonly code: HoldCode;
      readonly sender: string | null;
      readonly reason: string;
      readonly auth: string;
    }
  /** Authentication could not be finished (DNS temperror): try again later, do not judge yet. */
  | { readonly action: 'defer'; readonly sender: string; readonly reason: string; readonly auth: string }
  | { readonly action: 'ignore'; readonly sender: string | null; readonly reason: string };

/**
 * Relaxed identifier alignment (RFC 7489 §3.1.1) without a Public Suffix List: the two domains are
 * equal or one is a subdomain of the other. It can miss sibling subdomains of one organisation
 * (which then get held, the safe side) but never aligns two unrelated registrable domains.
 */
export function relaxedAligned(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return underDomain(x, y) || underDomain(y, x);
}

type AuthCheck =
  { readonly ok: true; readonly how: string } | { readonly ok: false; readonly temporary: boolean };

/** Did `domain` (the From domain) authenticate? DMARC pass, or an aligned DKIM or SPF pass. */
export function authenticatedFor(verdict: AuthVerdict, domain: string): AuthCheck {
  const dmarc = verdict.dmarc;
  const dmarcAbout = dmarc !== null && (dmarc.domain === null || dmarc.domain === domain);
  if (dmarcAbout && dmarc.result === 'pass') return { ok: true, how: `dmarc=pass for ${domain}` };
  // An explicit DMARC fail wins over our own alignment guess (the record may demand strict alignment).
  if (!(dmarcAbout && dmarc.result === 'fail')) {
    const dkim = verdict.dkim.find(
      (d) => d.result === 'pass' && (d.aligned ?? relaxedAligned(d.domain, domain)),
    );
    if (dkim !== undefined) return { ok: true, how: `aligned dkim=pass d=${dkim.domain}` };
    const spf = verdict.spf;
    if (spf !== null && spf.result === 'pass' && spf.domain !== null && relaxedAligned(spf.domain, domain)) {
      return { ok: true, how: `aligned spf=pass ${spf.domain}` };
    }
  }
  const temporary =
    (dmarcAbout && dmarc.result === 'temperror') ||
    verdict.dkim.some((d) => d.result === 'temperror' && relaxedAligned(d.domain, domain));
  return { ok: false, temporary };
}

/**
 * Decide what to do with a message.
 *
 * @param headers The message's From, Authentication-Results, Message-ID ({@link readSenderHeaders}).
 * @param verdict Our own mailauth verdict in `verify` mode (null otherwise: `trust-header` reads
 *   the trusted header itself, `off` needs none).
 */
export function decideSender(
  headers: SenderHeaders,
  verdict: AuthVerdict | null,
  policy: SenderPolicy,
): SenderDecision {
  const claim = claimOf(headers, policy);
  if (claim.kind === 'none') return { action: 'ignore', sender: claim.address, reason: claim.reason };
  if (claim.kind === 'malformed') {
    return {
      action: 'hold',
      code: 'MULTIPLE_FROM',
      sender: claim.address,
      reason: claim.reason,
      auth: 'not checked',
    };
  }
  const what =
    claim.kind === 'forward' ? `forward by trusted operator ${claim.address}` : `mail from ${claim.address}`;
  if (policy.mode === 'off') {
    return {
      action: 'accept',
      kind: claim.kind,
      sender: claim.address,
      reason: `${what}; SENDER_VERIFY=off`,
      auth: 'not checked',
    };
  }
  const used =
    policy.mode === 'trust-header'
      ? verdictFromHeaders(headers.authenticationResults, policy.trustedAuthservIds)
      : verdict;
  if (used === null) {
    return policy.mode === 'trust-header'
      ? {
          action: 'hold',
          code: 'NO_TRUSTED_HEADER',
          sender: claim.address,
          reason: `${what} has no Authentication-Results from a trusted server (${policy.trustedAuthservIds.join(', ')})`,
          auth: 'none',
        }
      : {
          action: 'hold',
          code: 'NOT_VERIFIED',
          sender: claim.address,
          reason: `${what} was not verified`,
          auth: 'none',
        };
  }
  const auth = summarizeVerdict(used);
  const check = authenticatedFor(used, claim.authDomain);
  if (check.ok) {
    return {
      action: 'accept',
      kind: claim.kind,
      sender: claim.address,
      reason: `${what}; ${check.how}`,
      auth,
    };
  }
  if (check.temporary) {
    return {
      action: 'defer',
      sender: claim.address,
      reason: `${what}: authentication hit a temporary error`,
      auth,
    };
  }
  return {
    action: 'hold',
    code: 'AUTH_FAILED',
    sender: claim.address,
    reason: `${what} failed authentication for ${claim.authDomain} (no DMARC pass, no aligned DKIM or SPF pass)`,
    auth,
  };
}
