import type { AuthVerdict, DkimOutcome, DmarcOutcome, SpfOutcome } from './auth-verdict.js';

/** One `method=result` entry of an Authentication-Results header (RFC 8601 §2.2 `resinfo`). */
export interface AuthResultEntry {
  /** Lower case, without a method version (`dkim/1` → `dkim`). */
  readonly method: string;
  readonly result: string;
  readonly reason: string | null;
  /** `ptype.property` → value, keys lower case (`header.d`, `smtp.mailfrom`, `header.from`). */
  readonly props: Readonly<Record<string, string>>;
}

export interface AuthResultsHeader {
  /** Lower case authserv-id (RFC 8601 §2.5), usually the receiving server's host name. */
  readonly authservId: string;
  readonly results: readonly AuthResultEntry[];
}

/**
 * Replace every comment (RFC 5322 §3.2.2: parenthesised, nestable, with quoted-pairs) by a space,
 * leaving quoted strings alone. Comments such as "(google.com: domain of … designates …)" carry
 * no result and may contain `;` or `=` that would confuse the split.
 */
function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i] ?? '';
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (value[i + 1] ?? '');
      i += 1;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted && c === '(') {
      depth += 1;
      continue;
    }
    if (!quoted && c === ')' && depth > 0) {
      depth -= 1;
      if (depth === 0) out += ' ';
      continue;
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** Split on a separator outside quoted strings. */
function splitOutsideQuotes(value: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i] ?? '';
    if (c === '\\' && quoted) {
      current += c + (value[i + 1] ?? '');
      i += 1;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && separator.test(c)) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/**
 * Parse the value of one Authentication-Results header field (RFC 8601 §2.2). Returns null when
 * it has no authserv-id. `none` (no checks done) gives an empty result list.
 */
export function parseAuthenticationResults(value: string): AuthResultsHeader | null {
  const segments = splitOutsideQuotes(stripComments(value), /;/);
  const head = (segments[0] ?? '').trim().split(/\s+/);
  const authservId = unquote(head[0] ?? '').toLowerCase();
  if (authservId === '') return null;
  const results: AuthResultEntry[] = [];
  for (const segment of segments.slice(1)) {
    // Optional white space around "=", "/" and "." is allowed by the grammar ([CFWS] between
    // tokens); glue it away so each token is one `name=value`.
    const compact = segment.trim().replace(/\s*([=/])\s*/g, '$1');
    if (compact === '' || compact.toLowerCase() === 'none') continue;
    const tokens = splitOutsideQuotes(compact, /\s/).filter((t) => t !== '');
    const first = tokens[0] ?? '';
    const eq = first.indexOf('=');
    if (eq <= 0) continue;
    const method = first.slice(0, eq).split('/')[0]?.toLowerCase() ?? '';
    const result = unquote(first.slice(eq + 1)).toLowerCase();
    let reason: string | null = null;
    const props: Record<string, string> = {};
    for (const token of tokens.slice(1)) {
      const at = token.indexOf('=');
      if (at <= 0) continue;
      const key = token.slice(0, at).toLowerCase();
      const val = unquote(token.slice(at + 1));
      if (key === 'reason') reason = val;
      else if (key.includes('.')) props[key] = val;
    }
    results.push({ method, result, reason, props });
  }
  return { authservId, results };
}

function domainOf(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  const at = value.lastIndexOf('@');
  const domain = (at >= 0 ? value.slice(at + 1) : value).trim().toLowerCase();
  return domain === '' ? null : domain;
}

/**
 * The verdict of the topmost Authentication-Results header written by a trusted server.
 *
 * Why only the topmost: RFC 8601 §5 has the receiving server remove (or rename) any
 * Authentication-Results that claim its own authserv-id before adding its own on top, so the first
 * header with that id is the one it wrote; anything further down could have been written by the
 * sender (§7.1 "Forged Header Fields"). Returns null when no header carries a trusted id.
 *
 * @param values Every Authentication-Results value, top of the message first.
 * @param trustedIds Lower-case authserv-ids of the servers the operator trusts.
 */
export function verdictFromHeaders(
  values: readonly string[],
  trustedIds: readonly string[],
): AuthVerdict | null {
  for (const value of values) {
    const parsed = parseAuthenticationResults(value);
    if (parsed === null || !trustedIds.includes(parsed.authservId)) continue;
    const dkim: DkimOutcome[] = [];
    let spf: SpfOutcome | null = null;
    let dmarc: DmarcOutcome | null = null;
    for (const r of parsed.results) {
      if (r.method === 'dkim') {
        // Gmail writes only header.i=@domain; others write header.d (RFC 8601 §2.7.1 allows both).
        const domain = domainOf(r.props['header.d']) ?? domainOf(r.props['header.i']);
        if (domain !== null) {
          dkim.push({ domain, selector: r.props['header.s'] ?? null, result: r.result, aligned: null });
        }
      } else if (r.method === 'spf' && spf === null) {
        spf = {
          domain: domainOf(r.props['smtp.mailfrom']) ?? domainOf(r.props['smtp.helo']),
          result: r.result,
        };
      } else if (r.method === 'dmarc' && dmarc === null) {
        dmarc = {
          result: r.result,
          policy: r.props['policy.dmarc'] ?? r.props['policy.published-domain-policy'] ?? null,
          domain: domainOf(r.props['header.from']),
        };
      }
    }
    return { source: 'header', authservId: parsed.authservId, dkim, spf, dmarc };
  }
  return null;
}
