/**
 * The outcome of sender authentication in one shape, whoever produced it: our own check with
 * mailauth (`verify`), or the Authentication-Results header of a trusted receiving server
 * (`trust-header`, RFC 8601). The sender policy decides on this, never on library objects.
 */

/** Result keywords of RFC 8601 §2.7 (DKIM, SPF, DMARC share most of them). */
export type AuthResultKeyword =
  'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | (string & {});

/** One DKIM signature's result (RFC 6376). */
export interface DkimOutcome {
  /** The signing domain, `d=`. */
  readonly domain: string;
  readonly selector: string | null;
  readonly result: AuthResultKeyword;
  /**
   * Whether `d=` aligns with the From domain (RFC 7489 §3.1.1). `null` when the producer did
   * not say (a header verdict): the policy then works it out itself.
   */
  readonly aligned: boolean | null;
}

/** The SPF result for the envelope sender (RFC 7208). */
export interface SpfOutcome {
  /** The MAIL FROM (or HELO) domain checked; null when unknown. */
  readonly domain: string | null;
  readonly result: AuthResultKeyword;
}

/** The DMARC result for the From domain (RFC 7489). */
export interface DmarcOutcome {
  readonly result: AuthResultKeyword;
  /** The published policy (`none`, `quarantine`, `reject`) when known. */
  readonly policy: string | null;
  /** The author (From) domain the result is about. */
  readonly domain: string | null;
}

export interface AuthVerdict {
  /** `mailauth` for our own check, `header` for a trusted Authentication-Results header. */
  readonly source: 'mailauth' | 'header';
  /** Who produced it: our authserv-id, or the trusted server's. */
  readonly authservId: string;
  readonly dkim: readonly DkimOutcome[];
  readonly spf: SpfOutcome | null;
  readonly dmarc: DmarcOutcome | null;
  /** Why the check could not be completed (a timeout, an unreadable message), when it could not. */
  readonly note?: string;
}

/** One line in the style of an Authentication-Results header, for logs and the held list. */
export function summarizeVerdict(verdict: AuthVerdict): string {
  const parts: string[] = [];
  if (verdict.dkim.length === 0) parts.push('dkim=none');
  for (const d of verdict.dkim) {
    parts.push(`dkim=${d.result} header.d=${d.domain}${d.aligned === true ? ' (aligned)' : ''}`);
  }
  const { spf, dmarc } = verdict;
  if (spf === null) parts.push('spf=none');
  else parts.push(`spf=${spf.result}${spf.domain === null ? '' : ` smtp.mailfrom=${spf.domain}`}`);
  if (dmarc === null) {
    parts.push('dmarc=none');
  } else {
    const policy = dmarc.policy === null ? '' : ` (p=${dmarc.policy})`;
    const from = dmarc.domain === null ? '' : ` header.from=${dmarc.domain}`;
    parts.push(`dmarc=${dmarc.result}${policy}${from}`);
  }
  if (verdict.note !== undefined) parts.push(`(${verdict.note})`);
  return `${verdict.authservId}; ${parts.join('; ')}`;
}
