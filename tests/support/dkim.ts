// Test support: sign test mail with a generated RSA key (DKIM, RFC 6376), a DNS resolver stub that
// serves the key, DMARC and SPF records mailauth looks up (no network), and ISW-shaped test mail.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { dkimSign } from 'mailauth';
import type { DnsResolver } from '../../src/inbox/authenticate.js';
import { readFixture } from './fixtures.js';

export interface SigningKey {
  readonly domain: string;
  readonly selector: string;
  readonly privateKey: string;
  /** The `v=DKIM1` TXT record that publishes the public key (RFC 6376 §3.6.1). */
  readonly record: string;
}

const keyCache = new Map<string, SigningKey>();

/** A 2048-bit RSA key for `selector._domainkey.domain` (cached per domain and selector). */
export function createSigningKey(domain: string, selector = 'test'): SigningKey {
  const id = `${selector}._domainkey.${domain}`;
  const cached = keyCache.get(id);
  if (cached !== undefined) return cached;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const key: SigningKey = {
    domain,
    selector,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${spki}`,
  };
  keyCache.set(id, key);
  return key;
}

/** The message with a DKIM-Signature by `key` prepended (relaxed/relaxed, rsa-sha256). */
export async function signMessage(raw: Buffer, key: SigningKey): Promise<Buffer> {
  // mailauth signs what `signatureData` lists (its top-level signingDomain/selector are only
  // defaults for the entries).
  const entry = { signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey };
  const result = await dkimSign(raw, { ...entry, signatureData: [entry] });
  if (result.errors.length > 0 || result.signatures === '') {
    throw new Error(`DKIM signing failed: ${result.errors.map((e) => e.err.message).join('; ')}`);
  }
  return Buffer.concat([Buffer.from(result.signatures), raw]);
}

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`query ${code} ${name}`), { code });
}

/**
 * A DNS resolver stub for mailauth: TXT records for DKIM keys, DMARC and SPF; every other name is
 * NXDOMAIN (`ENOTFOUND`), and names marked failing answer SERVFAIL (a temporary error).
 */
export class StubDns {
  private readonly txt = new Map<string, string[]>();
  private readonly failing = new Set<string>();
  /** Every lookup, as "TYPE name", so a test can tell what was asked. */
  readonly queries: string[] = [];

  publishKey(key: SigningKey): this {
    return this.publishTxt(`${key.selector}._domainkey.${key.domain}`, key.record);
  }

  publishDmarc(domain: string, policy: 'none' | 'quarantine' | 'reject' = 'reject'): this {
    return this.publishTxt(`_dmarc.${domain}`, `v=DMARC1; p=${policy}`);
  }

  publishTxt(name: string, value: string): this {
    const list = this.txt.get(name.toLowerCase()) ?? [];
    list.push(value);
    this.txt.set(name.toLowerCase(), list);
    return this;
  }

  /** Make lookups of `name` fail with SERVFAIL until {@link heal} is called. */
  fail(name: string): this {
    this.failing.add(name.toLowerCase());
    return this;
  }

  heal(name: string): this {
    this.failing.delete(name.toLowerCase());
    return this;
  }

  readonly resolver: DnsResolver = (name: string, rrtype: string) => {
    const n = name.toLowerCase().replace(/\.$/, '');
    this.queries.push(`${rrtype} ${n}`);
    if (this.failing.has(n)) return Promise.reject(dnsError('ESERVFAIL', n));
    const records = rrtype.toUpperCase() === 'TXT' ? this.txt.get(n) : undefined;
    if (records === undefined) return Promise.reject(dnsError('ENOTFOUND', n));
    // TXT answers come as arrays of ≤255-byte character-strings (RFC 1035 §3.3.14).
    return Promise.resolve(records.map((r) => r.match(/.{1,255}/g) ?? ['']));
  };
}

/** A DNS stub with DKIM keys and `p=reject` DMARC records for the given domains. */
export function dnsFor(...keys: SigningKey[]): StubDns {
  const dns = new StubDns();
  for (const key of keys) dns.publishKey(key).publishDmarc(key.domain);
  return dns;
}

/** A unique Message-ID for test mail. */
export function uniqueMessageId(domain = 'test.isw-ko.example'): string {
  return `<${Date.now()}.${randomBytes(6).toString('hex')}@${domain}>`;
}

/** The message without the named header fields (folded continuation lines included). */
export function stripHeaders(raw: Buffer, names: readonly string[]): Buffer {
  const text = raw.toString('latin1');
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const end = text.indexOf(nl + nl);
  const head = text.slice(0, end);
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const kept: string[] = [];
  let dropping = false;
  for (const line of head.split(nl)) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = drop.has(line.slice(0, line.indexOf(':')).trim().toLowerCase());
    if (!dropping) kept.push(line);
  }
  return Buffer.from(kept.join(nl) + text.slice(end), 'latin1');
}

/** The message with one header field replaced (or added at the top). */
export function setHeader(raw: Buffer, name: string, value: string): Buffer {
  const stripped = stripHeaders(raw, [name]);
  const nl = stripped.includes('\r\n') ? '\r\n' : '\n';
  return Buffer.concat([Buffer.from(`${name}: ${value}${nl}`, 'latin1'), stripped]);
}

/**
 * An ISW newsletter as the mailbox would get it, from a shared fixture: its made-up DKIM
 * signatures and Authentication-Results removed (sign it with {@link signMessage}), a fresh
 * Message-ID so every test message is distinct.
 */
export function iswMessage(options: { readonly messageId?: string; readonly fixture?: string } = {}): Buffer {
  const raw = readFixture(options.fixture ?? 'isw-roca-2025-03-02.eml');
  const bare = stripHeaders(raw, ['DKIM-Signature', 'Authentication-Results']);
  return setHeader(bare, 'Message-ID', options.messageId ?? uniqueMessageId('synd.ccsend.com'));
}

/** A short plain-text message. */
export function plainMessage(options: {
  readonly from: string;
  readonly subject?: string;
  readonly messageId?: string;
  readonly body?: string;
  readonly extraHeaders?: readonly string[];
}): Buffer {
  const lines = [
    ...(options.extraHeaders ?? []),
    `From: ${options.from}`,
    'To: isw-inbox@example.com',
    `Subject: ${options.subject ?? 'Test message'}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${options.messageId ?? uniqueMessageId()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    options.body ?? 'Hello.',
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
