import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';

/** An address we can mail, in the form we store and the form we compare. */
export interface CheckedAddress {
  /** As we send to it: trimmed, domain in lower-case ASCII (IDNA), local part as typed. */
  readonly address: string;
  /**
   * Lower-cased: the identity of a subscriber. RFC 5321 §2.4 lets a server treat local parts as
   * case-sensitive, but no mailbox provider does, and two subscribers differing only in case would
   * get every digest twice.
   */
  readonly key: string;
}

/**
 * Why an address was refused, as a stable code: the public pages show their own (Korean) text per
 * code, the CLI and logs the English `reason`.
 */
export type AddressProblem =
  | 'EMPTY'
  | 'FORBIDDEN_CHARACTERS'
  | 'NO_AT_SIGN'
  | 'SEVERAL_AT_SIGNS'
  | 'NON_ASCII_LOCAL_PART'
  | 'LOCAL_PART_TOO_LONG'
  | 'LOCAL_PART_INVALID'
  | 'IP_LITERAL'
  | 'DOMAIN_INVALID'
  | 'DOMAIN_WITHOUT_DOT'
  | 'TOO_LONG';

export type AddressCheck =
  | ({ readonly ok: true } & CheckedAddress)
  | { readonly ok: false; readonly problem: AddressProblem; readonly reason: string };

// RFC 5321 §4.5.3.1: local part ≤ 64 octets; a path ≤ 256 octets including "<>", so ≤ 254 here.
const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254;
const MAX_LABEL_OCTETS = 63;
// RFC 5322 atext, dot-separated (no quoted strings: nobody subscribes with one, and they are a
// classic source of header-injection and parser disagreements).
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

const REASONS: Record<AddressProblem, string> = {
  EMPTY: 'empty address',
  FORBIDDEN_CHARACTERS: 'contains spaces or characters not allowed in an address',
  NO_AT_SIGN: 'needs exactly one @ with text on both sides',
  SEVERAL_AT_SIGNS: 'more than one @',
  NON_ASCII_LOCAL_PART: 'non-ASCII before the @ needs SMTPUTF8, which is not supported',
  LOCAL_PART_TOO_LONG: 'the part before the @ is longer than 64 characters',
  LOCAL_PART_INVALID: 'the part before the @ is not valid (dots, symbols)',
  IP_LITERAL: 'IP address literals are not accepted',
  DOMAIN_INVALID: 'the domain is not valid',
  DOMAIN_WITHOUT_DOT: 'the domain needs a dot (e.g. example.com)',
  TOO_LONG: 'longer than 254 characters',
};

const refuse = (problem: AddressProblem): AddressCheck => ({ ok: false, problem, reason: REASONS[problem] });

/**
 * Check an address typed into the subscribe form or read from a CSV file, and say why when it is
 * refused. Pure: no DNS lookups (an MX check belongs to delivery, where a 5xx is the real answer).
 */
export function checkAddress(input: string): AddressCheck {
  const trimmed = input.trim();
  if (trimmed === '') return refuse('EMPTY');
  if (/[\s<>()[\]\\,;:"]/.test(trimmed.replace(/@(?=[^@]*$)/, ''))) {
    return refuse('FORBIDDEN_CHARACTERS');
  }
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return refuse('NO_AT_SIGN');
  const local = trimmed.slice(0, at);
  const domainInput = trimmed.slice(at + 1);
  if (local.includes('@')) return refuse('SEVERAL_AT_SIGNS');
  // eslint-disable-next-line no-control-regex -- the check is exactly "outside ASCII"
  if (/[^\x00-\x7f]/.test(local)) {
    return refuse('NON_ASCII_LOCAL_PART');
  }
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS) return refuse('LOCAL_PART_TOO_LONG');
  if (!DOT_ATOM.test(local)) return refuse('LOCAL_PART_INVALID');
  if (domainInput.startsWith('[')) return refuse('IP_LITERAL');
  // IDNA: 한국.kr and other internationalised domains become their xn-- form, the one SMTP uses.
  const domain = domainToASCII(domainInput.toLowerCase());
  if (domain === '') return refuse('DOMAIN_INVALID');
  const labels = domain.split('.');
  if (labels.length < 2) return refuse('DOMAIN_WITHOUT_DOT');
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL_OCTETS || !LABEL.test(label)) {
      return refuse('DOMAIN_INVALID');
    }
  }
  const tld = labels[labels.length - 1] ?? '';
  if (!/^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(tld)) return refuse('DOMAIN_INVALID');
  const address = `${local}@${domain}`;
  if (Buffer.byteLength(address) > MAX_ADDRESS_OCTETS) return refuse('TOO_LONG');
  return { ok: true, address, key: address.toLowerCase() };
}

/**
 * The subscriber id of an address: `s` and 24 hex digits of sha256 of its lower-cased form. The same
 * address always has the same id, so a person who unsubscribes and comes back is the same record,
 * and the per-(digest, subscriber) job ids and sent markers still apply to them.
 */
export function subscriberIdOf(key: string): string {
  return `s${createHash('sha256').update(key.toLowerCase()).digest('hex').slice(0, 24)}`;
}

/** "k***@example.com": enough for a person to recognise their address on a public page, no more. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address.slice(0, 1)}***${address.slice(at)}`;
}
