// The soak's mail: built at run time from the shared fixtures (tests/support/fixtures.ts) and the
// malformed corpus in tests/soak-corpus/, deterministic for one seed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { emailIdOf } from '../src/queue/names.js';
import { setHeader, stripHeaders } from '../tests/support/dkim.js';
import {
  EASTERN_FORWARDER,
  FORWARD_VARIANTS,
  readFixture,
  REPO_ROOT,
  rfc5322Date,
  SEOUL_FORWARDER,
  type Forwarder,
  type ForwardVariant,
} from '../tests/support/fixtures.js';
import type { Random } from './random.js';

/** The authserv-id the shared fixtures' Authentication-Results carry; SENDER_TRUSTED_AUTHSERV is set to it. */
export const TRUSTED_AUTHSERV = 'mx1.example.com';

/** Forwarders the bot is told to trust (SENDER_TRUSTED_FORWARDERS). */
export const TRUSTED_FORWARDERS: readonly Forwarder[] = [SEOUL_FORWARDER, EASTERN_FORWARDER];

/** The malformed corpus committed under tests/soak-corpus/. */
export const SOAK_CORPUS_DIR = path.join(REPO_ROOT, 'tests', 'soak-corpus');

/** What kind of email an item is; the soak table counts them by kind. */
export type ItemKind = 'genuine' | 'duplicate' | 'forward' | 'non-isw' | 'spoofed' | 'malformed';
export const ITEM_KINDS: readonly ItemKind[] = [
  'genuine',
  'duplicate',
  'forward',
  'non-isw',
  'spoofed',
  'malformed',
];

/**
 * What must become of one email:
 * - `post`: it is (a copy of) the genuine report `report`, which must be posted exactly once per board;
 * - `held`: spoofed mail claiming to be ISW: kept in the quarantine, never posted;
 * - `ignored`: mail from someone not allowed to post: never posted (the bot keeps no record of it);
 * - `rejected`: malformed mail: a rejection with one of `codes` (or, failing that, any reason);
 * - `posted-clean`: hostile but well-formed mail from ISW: posted at most once as the report
 *   `report`, with nothing executable in the post.
 */
export type Expectation =
  | { readonly kind: 'post'; readonly report: string }
  | { readonly kind: 'held'; readonly codes: readonly string[] }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'rejected'; readonly codes: readonly string[] }
  | { readonly kind: 'posted-clean'; readonly report: string };

/** One email of the soak. */
export interface CorpusItem {
  /** `e0001`… in arrival order. */
  readonly id: string;
  readonly kind: ItemKind;
  /** Which variant (fixture, forward style, spoof trick, malformed file). */
  readonly variant: string;
  /** The Message-ID header (with brackets), or null. */
  readonly messageId: string | null;
  /** The pipeline's email id for these bytes (`emailIdOf`), which is also the quarantine's key. */
  readonly emailId: string;
  readonly expect: Expectation;
  readonly raw: Buffer;
}

/** The mix as counts per kind. */
export type CorpusMix = Readonly<Record<ItemKind, number>>;

/**
 * How `emails` split across kinds: about 42 % unique genuine reports, 12 % exact or re-delivered
 * duplicates, 12 % forwards, 10 % other newsletters, 10 % spoofed, the rest malformed.
 */
export function corpusMix(emails: number): CorpusMix {
  if (!Number.isInteger(emails) || emails < 12) throw new RangeError('the soak needs at least 12 emails');
  const share = (p: number): number => Math.max(1, Math.round(emails * p));
  const mix = {
    genuine: share(0.42),
    duplicate: share(0.12),
    forward: share(0.12),
    'non-isw': share(0.1),
    spoofed: share(0.1),
    malformed: 0,
  };
  mix.malformed = Math.max(1, emails - Object.values(mix).reduce((a, b) => a + b, 0));
  mix.genuine = emails - (mix.duplicate + mix.forward + mix['non-isw'] + mix.spoofed + mix.malformed);
  return mix;
}

/** A fixture the genuine reports are made from, with the long date its subject and body show. */
interface GenuineFixture {
  readonly file: string;
  readonly product: string;
  /** The date as the subject writes it ("March 2, 2025"). */
  readonly longDate: string;
}

const GENUINE_FIXTURES: readonly GenuineFixture[] = [
  { file: 'isw-roca-2025-03-02.eml', product: 'roca', longDate: 'March 2, 2025' },
  { file: 'isw-iran-update-2025-05-14.eml', product: 'iran', longDate: 'May 14, 2025' },
  { file: 'isw-roca-2024-01-26.eml', product: 'roca-2024', longDate: 'January 26, 2024' },
];

const DAY_MS = 86_400_000;

/** "March 2, 2025" for a UTC calendar day. */
function longDate(day: Date): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone: 'UTC',
    month: 'long',
    day: 'numeric',
    year: 'numeric',
  }).format(day);
}

/** The first value of a header field in raw bytes (unfolded), or null. */
function headerOf(raw: Buffer, name: string): string | null {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = text.slice(0, end < 0 ? text.length : end);
  const m = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim() ?? null;
}

/**
 * A fixture moved by `offsetDays`: the long date replaced everywhere it is written out (subject,
 * body date line), the Date header shifted by as many days, a new Message-ID. The title and the
 * day differ, so the content fingerprint differs: a distinct report.
 */
function shiftedFixture(fixture: GenuineFixture, offsetDays: number, messageId: string): Buffer {
  const original = readFixture(fixture.file);
  const base = new Date(`${fixture.longDate} UTC`);
  const next = longDate(new Date(base.getTime() + offsetDays * DAY_MS));
  let raw: Buffer = Buffer.from(original.toString('latin1').split(fixture.longDate).join(next), 'latin1');
  const date = headerOf(raw, 'Date');
  const sent = date === null ? NaN : Date.parse(date.replace(/\s*\([^)]*\)\s*$/, ''));
  if (!Number.isNaN(sent)) {
    raw = setHeader(raw, 'Date', rfc5322Date(new Date(sent + offsetDays * DAY_MS), 'America/New_York'));
  }
  return setHeader(raw, 'Message-ID', messageId);
}

/** An Authentication-Results field as the trusted receiving server writes it. */
function authResults(domain: string, result: 'pass' | 'fail', authserv = TRUSTED_AUTHSERV): string {
  return (
    `${authserv};\r\n\tdkim=${result} header.d=${domain} header.s=s1;\r\n` +
    `\tspf=${result} smtp.mailfrom=${domain};\r\n\tdmarc=${result} (p=reject) header.from=${domain}`
  );
}

function replaceFrom(raw: Buffer, from: string): Buffer {
  return setHeader(raw, 'From', from);
}

/** Spoof tricks, each with what the sender policy must do with it. */
const SPOOF_VARIANTS = [
  'no-auth-results',
  'untrusted-authserv',
  'auth-fail',
  'forged-below',
  'multiple-from',
  'rewrite-trick',
  'lookalike-domain',
  'untrusted-forward',
] as const;
type SpoofVariant = (typeof SPOOF_VARIANTS)[number];

async function spoofed(
  variant: SpoofVariant,
  base: Buffer,
  messageId: string,
): Promise<[Buffer, Expectation]> {
  const bare = stripHeaders(base, ['Authentication-Results', 'DKIM-Signature']);
  switch (variant) {
    case 'no-auth-results':
      return [bare, { kind: 'held', codes: ['NO_TRUSTED_HEADER'] }];
    case 'untrusted-authserv':
      // A pass written by a server the operator does not trust (RFC 8601 §7.1 forged header).
      return [
        setHeader(
          bare,
          'Authentication-Results',
          authResults('understandingwar.org', 'pass', 'mx.evil.example'),
        ),
        { kind: 'held', codes: ['NO_TRUSTED_HEADER'] },
      ];
    case 'auth-fail':
      return [
        setHeader(bare, 'Authentication-Results', authResults('understandingwar.org', 'fail')),
        { kind: 'held', codes: ['AUTH_FAILED'] },
      ];
    case 'forged-below': {
      // The sender wrote a "pass" claiming our server's id; our server's own (failing) one is on top.
      const forged = setHeader(bare, 'Authentication-Results', authResults('understandingwar.org', 'pass'));
      const real = Buffer.from(
        `Authentication-Results: ${authResults('understandingwar.org', 'fail')}\r\n`,
        'latin1',
      );
      return [Buffer.concat([real, forged]), { kind: 'held', codes: ['AUTH_FAILED'] }];
    }
    case 'multiple-from':
      return [
        setHeader(
          replaceFrom(
            bare,
            'ISW Publications <publications@understandingwar.org>, Mallory <mallory@evil.example>',
          ),
          'Authentication-Results',
          authResults('evil.example', 'pass'),
        ),
        { kind: 'held', codes: ['MULTIPLE_FROM'] },
      ];
    case 'rewrite-trick':
      // Reads as publications-evil@understandingwar.org or publications@evil-understandingwar.org:
      // every reading must be allowed, and one is not.
      return [
        setHeader(
          replaceFrom(bare, 'ISW Publications <publications-evil-understandingwar.org@shared1.ccsend.com>'),
          'Authentication-Results',
          authResults('shared1.ccsend.com', 'pass'),
        ),
        { kind: 'ignored' },
      ];
    case 'lookalike-domain':
      return [
        setHeader(
          replaceFrom(bare, 'ISW Publications <publications@understandingwar.org.evil.example>'),
          'Authentication-Results',
          authResults('understandingwar.org.evil.example', 'pass'),
        ),
        { kind: 'ignored' },
      ];
    case 'untrusted-forward': {
      const mallory: Forwarder = {
        name: 'Mallory',
        address: 'mallory@evil.example',
        timeZone: 'Europe/Berlin',
        note: 'Please post this.',
      };
      const fwd = await FORWARD_VARIANTS.gmail(base, mallory);
      return [
        setHeader(
          setHeader(fwd, 'Message-ID', messageId),
          'Authentication-Results',
          authResults('evil.example', 'pass'),
        ),
        { kind: 'ignored' },
      ];
    }
  }
}

/** A malformed-corpus file and what must become of it. */
interface MalformedTemplate {
  readonly name: string;
  readonly expect: Expectation;
}

/** The files of tests/soak-corpus and their expected outcome; `huge-attachment` is generated. */
export const MALFORMED_TEMPLATES: readonly MalformedTemplate[] = [
  { name: 'broken-no-boundary', expect: { kind: 'rejected', codes: ['MALFORMED_MIME'] } },
  { name: 'broken-unterminated', expect: { kind: 'rejected', codes: ['MALFORMED_MIME'] } },
  { name: 'empty-body', expect: { kind: 'rejected', codes: ['NO_TEXT', 'EMPTY_MESSAGE'] } },
  { name: 'binary-only', expect: { kind: 'rejected', codes: ['NO_TEXT'] } },
  { name: 'wrong-charset-euckr-as-utf8', expect: { kind: 'rejected', codes: ['INVALID_CHARSET'] } },
  { name: 'wrong-charset-unknown', expect: { kind: 'rejected', codes: ['INVALID_CHARSET'] } },
  { name: 'script-style', expect: { kind: 'posted-clean', report: 'm-script-style' } },
  { name: 'prompt-injection', expect: { kind: 'posted-clean', report: 'm-prompt-injection' } },
  { name: 'huge-attachment', expect: { kind: 'rejected', codes: ['MESSAGE_TOO_LARGE'] } },
];

/** The PARSE_MAX_MESSAGE_BYTES the soak sets, and the size of the generated attachment above it. */
export const PARSE_LIMIT_BYTES = 2 * 1024 * 1024;
const HUGE_ATTACHMENT_BYTES = 3 * 1024 * 1024;

/**
 * An ISW report with a 3 MiB attachment (pseudo-random bytes, base64 in 76-character lines, RFC
 * 2045 §6.8): above PARSE_MAX_MESSAGE_BYTES, so the parser must reject it with a reason.
 */
function hugeAttachment(messageId: string, random: Random): Buffer {
  const report = readFileSync(path.join(SOAK_CORPUS_DIR, 'script-style.eml'), 'latin1');
  const split = report.search(/\r?\n\r?\n/);
  const head = report
    .slice(0, split)
    .split(/\r?\n(?![ \t])/)
    .filter((l) => !/^(content-type|content-transfer-encoding|mime-version|x-soak-corpus):/i.test(l))
    .join('\r\n');
  const bytes = Buffer.alloc(HUGE_ATTACHMENT_BYTES);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.floor(random.next() * 2 ** 32), i);
  const b64 = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
  const text =
    `${head}\r\nX-Soak-Corpus: a report with a 3 MiB attachment, above the parse limit\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="soak-huge"\r\n\r\n' +
    '--soak-huge\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
    'Russian Offensive Campaign Assessment\r\nMarch 11, 2025, 7:00 pm ET\r\nSee the attached map archive.\r\n' +
    '--soak-huge\r\nContent-Type: application/zip; name="maps.zip"\r\n' +
    'Content-Disposition: attachment; filename="maps.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    `${b64}\r\n--soak-huge--\r\n`;
  return setHeader(Buffer.from(text, 'latin1'), 'Message-ID', messageId);
}

function malformed(template: MalformedTemplate, messageId: string, random: Random): Buffer {
  if (template.name === 'huge-attachment') return hugeAttachment(messageId, random);
  const raw = readFileSync(path.join(SOAK_CORPUS_DIR, `${template.name}.eml`));
  // A fresh Message-ID per copy: each is a new email, not a re-delivery of the last one.
  return setHeader(raw, 'Message-ID', messageId);
}

function nonIsw(index: number, messageId: string, random: Random): [string, Buffer] {
  if (random.chance(0.5)) {
    const raw = readFixture('other-newsletter-2025-05-02.eml');
    const subject = headerOf(raw, 'Subject') ?? 'Newsletter';
    return [
      'other-newsletter',
      setHeader(setHeader(raw, 'Message-ID', messageId), 'Subject', `${subject} (${index})`),
    ];
  }
  const lines = [
    `Authentication-Results: ${authResults('example.org', 'pass')}`,
    'From: Weekly Digest <news@digest.example.org>',
    'To: isw-inbox@example.com',
    `Subject: Your weekly digest #${index}`,
    `Date: ${new Date(Date.UTC(2025, 2, 1) + index * 3_600_000).toUTCString()}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello, here is issue ${index} of our digest. Key Takeaways: none, this is not ISW.`,
    '',
  ];
  return ['plain-newsletter', Buffer.from(lines.join('\r\n'))];
}

/** The soak's emails in arrival order, and the logical reports that must each be posted once. */
export interface Corpus {
  readonly items: readonly CorpusItem[];
  /** Keys of the genuine reports (`g0001`…): each must be posted exactly once per board. */
  readonly genuineReports: readonly string[];
  readonly mix: CorpusMix;
}

/**
 * Build the mix for `emails` emails from `random` (fork it per concern). Genuine reports are
 * fixture variants with their own Message-ID, subject and date; duplicates repeat one of them
 * byte for byte or as a re-delivery (same Message-ID, one more Received header); forwards quote or
 * attach one (inline forwards lose the Message-ID, so only the content fingerprint can match
 * them); spoofed mail and other newsletters carry unique content, so that a leak would show as a
 * post of its own rather than hide behind a genuine one.
 */
export async function buildCorpus(emails: number, seed: number, random: Random): Promise<Corpus> {
  const mix = corpusMix(emails);
  const mid = (label: string, domain = 'synd.ccsend.com'): string => `<soak-${seed}-${label}@${domain}>`;
  const drafts: Omit<CorpusItem, 'id' | 'emailId'>[] = [];

  // Unique genuine reports, round-robin over the fixtures, each a day later than the last.
  const genuine: { key: string; raw: Buffer }[] = [];
  for (let i = 0; i < mix.genuine; i += 1) {
    const fixture = GENUINE_FIXTURES[i % GENUINE_FIXTURES.length] as GenuineFixture;
    const key = `g${String(i + 1).padStart(4, '0')}`;
    const messageId = mid(key);
    const raw = shiftedFixture(fixture, 1 + Math.floor(i / GENUINE_FIXTURES.length), messageId);
    genuine.push({ key, raw });
    drafts.push({
      kind: 'genuine',
      variant: fixture.product,
      messageId,
      expect: { kind: 'post', report: key },
      raw,
    });
  }

  for (let i = 0; i < mix.duplicate; i += 1) {
    const of = random.pick(genuine);
    const redelivered = random.chance(0.4);
    const raw = redelivered
      ? Buffer.concat([
          Buffer.from(
            `Received: from mx2.example.com by ${TRUSTED_AUTHSERV} with LMTP id soak-dup-${i}; Mon, 3 Mar 2025 04:00:00 +0000\r\n`,
          ),
          of.raw,
        ])
      : of.raw;
    drafts.push({
      kind: 'duplicate',
      variant: redelivered ? 'redelivered' : 'exact',
      messageId: headerOf(of.raw, 'Message-ID'),
      expect: { kind: 'post', report: of.key },
      raw,
    });
  }

  const forwardVariants = Object.keys(FORWARD_VARIANTS) as ForwardVariant[];
  for (let i = 0; i < mix.forward; i += 1) {
    const of = random.pick(genuine);
    const variant = random.pick(forwardVariants);
    const forwarder = random.pick(TRUSTED_FORWARDERS);
    const domain = forwarder.address.slice(forwarder.address.indexOf('@') + 1);
    const messageId = mid(`fwd${i}`, domain);
    const built = await FORWARD_VARIANTS[variant](of.raw, forwarder);
    const raw = setHeader(
      setHeader(built, 'Message-ID', messageId),
      'Authentication-Results',
      authResults(domain, 'pass'),
    );
    drafts.push({ kind: 'forward', variant, messageId, expect: { kind: 'post', report: of.key }, raw });
  }

  for (let i = 0; i < mix['non-isw']; i += 1) {
    const messageId = mid(`other${i}`, 'news.example.org');
    const [variant, raw] = nonIsw(i, messageId, random);
    drafts.push({ kind: 'non-isw', variant, messageId, expect: { kind: 'ignored' }, raw });
  }

  for (let i = 0; i < mix.spoofed; i += 1) {
    const variant = SPOOF_VARIANTS[i % SPOOF_VARIANTS.length] as SpoofVariant;
    const fixture = GENUINE_FIXTURES[i % GENUINE_FIXTURES.length] as GenuineFixture;
    const messageId = mid(`spoof${i}`);
    // Days before the fixture's own date: never the date of a genuine report.
    const base = shiftedFixture(fixture, -(1 + i), messageId);
    const [raw, expect] = await spoofed(variant, base, messageId);
    drafts.push({ kind: 'spoofed', variant, messageId, expect, raw });
  }

  // Malformed: every template in turn (shuffled per seed); the huge one at most 5 times.
  const order = random.shuffle(MALFORMED_TEMPLATES);
  let huge = 0;
  for (let i = 0, t = 0; i < mix.malformed; t += 1) {
    const template = order[t % order.length] as MalformedTemplate;
    if (template.name === 'huge-attachment' && huge >= 5) continue;
    if (template.name === 'huge-attachment') huge += 1;
    const messageId = mid(`bad${i}`);
    drafts.push({
      kind: 'malformed',
      variant: template.name,
      messageId,
      expect: template.expect,
      raw: malformed(template, messageId, random),
    });
    i += 1;
  }

  const items = random.shuffle(drafts).map((d, i) => ({
    ...d,
    id: `e${String(i + 1).padStart(4, '0')}`,
    emailId: emailIdOf(d.raw),
  }));
  return { items, genuineReports: genuine.map((g) => g.key), mix };
}
