// Covers the pure sender policy: allowlist (domains, subdomains, addresses), Constant Contact From rewrites, trusted forwarders, several From addresses, and the accept/hold/defer/ignore decision in verify, trust-header and off modes.
import { describe, expect, it } from 'vitest';
import type { AuthVerdict } from '../../src/inbox/auth-verdict.js';
import {
  authenticatedFor,
  claimOf,
  decideSender,
  needsVerdict,
  readSenderHeaders,
  relaxedAligned,
  rewriteCandidates,
  type SenderPolicy,
} from '../../src/inbox/sender-policy.js';

const POLICY: SenderPolicy = {
  mode: 'verify',
  allowlist: ['understandingwar.org', 'criticalthreats@aei.org'],
  rewriteDomains: ['ccsend.com'],
  trustedForwarders: ['ops@example.kr'],
  trustedAuthservIds: ['mx.google.com'],
};

const head = (...lines: string[]): ReturnType<typeof readSenderHeaders> =>
  readSenderHeaders([...lines, 'Subject: x', 'Message-ID: <1@x>'].join('\r\n'));

function verdict(partial: Partial<AuthVerdict>): AuthVerdict {
  return { source: 'mailauth', authservId: 'isw-ko', dkim: [], spf: null, dmarc: null, ...partial };
}

const PASS = verdict({
  dkim: [{ domain: 'understandingwar.org', selector: 's', result: 'pass', aligned: true }],
  dmarc: { result: 'pass', policy: 'reject', domain: 'understandingwar.org' },
});
const FAIL = verdict({
  dkim: [{ domain: 'auth.ccsend.com', selector: 's', result: 'pass', aligned: false }],
  dmarc: { result: 'fail', policy: 'reject', domain: 'understandingwar.org' },
});

describe('claimOf', () => {
  it('allows listed domains with their subdomains and exact addresses', () => {
    expect(claimOf(head('From: ISW <publications@understandingwar.org>'), POLICY)).toMatchObject({
      kind: 'isw',
      via: 'direct',
      authDomain: 'understandingwar.org',
    });
    expect(claimOf(head('From: a@news.understandingwar.org'), POLICY).kind).toBe('isw');
    expect(claimOf(head('From: criticalthreats@aei.org'), POLICY).kind).toBe('isw');
    expect(claimOf(head('From: someone-else@aei.org'), POLICY).kind).toBe('none');
    expect(claimOf(head('From: a@notunderstandingwar.org'), POLICY).kind).toBe('none');
    expect(claimOf(head('From: A@UnderstandingWar.ORG'), POLICY).kind).toBe('isw');
  });

  it('decodes Constant Contact rewrites, and refuses a rewrite with an ambiguous, unlisted reading', () => {
    expect(claimOf(head('From: publications-understandingwar.org@shared1.ccsend.com'), POLICY)).toMatchObject(
      {
        kind: 'isw',
        via: 'rewrite',
        authDomain: 'shared1.ccsend.com',
      },
    );
    expect(rewriteCandidates('x-evil-understandingwar.org')).toEqual([
      'x@evil-understandingwar.org',
      'x-evil@understandingwar.org',
    ]);
    expect(claimOf(head('From: x-evil-understandingwar.org@shared1.ccsend.com'), POLICY).kind).toBe('none');
    expect(claimOf(head('From: editor-eebrief.example.org@shared1.ccsend.com'), POLICY).kind).toBe('none');
  });

  it('knows trusted forwarders, and treats several From addresses naming ISW as malformed (RFC 7489 §6.6.1)', () => {
    expect(claimOf(head('From: Ops <OPS@example.kr>'), POLICY)).toMatchObject({
      kind: 'forward',
      authDomain: 'example.kr',
    });
    expect(claimOf(head('From: a@understandingwar.org, b@evil.example'), POLICY).kind).toBe('malformed');
    expect(claimOf(head('From: a@understandingwar.org', 'From: b@evil.example'), POLICY).kind).toBe(
      'malformed',
    );
    expect(claimOf(head('From: a@x.example, b@y.example'), POLICY).kind).toBe('none');
    expect(claimOf(head('Subject: no from'), POLICY)).toMatchObject({
      kind: 'none',
      reason: 'no From address',
    });
  });
});

describe('authenticatedFor', () => {
  it('passes on DMARC pass, or on an aligned DKIM or SPF pass when there is no DMARC verdict', () => {
    expect(authenticatedFor(PASS, 'understandingwar.org').ok).toBe(true);
    const aligned = verdict({
      dkim: [{ domain: 'understandingwar.org', selector: null, result: 'pass', aligned: null }],
    });
    expect(authenticatedFor(aligned, 'news.understandingwar.org').ok).toBe(true);
    const spf = verdict({ spf: { domain: 'understandingwar.org', result: 'pass' } });
    expect(authenticatedFor(spf, 'understandingwar.org').ok).toBe(true);
  });

  it('fails when only an unaligned signature passes, and an explicit DMARC fail wins over alignment guesses', () => {
    expect(authenticatedFor(FAIL, 'understandingwar.org')).toEqual({ ok: false, temporary: false });
    const strict = verdict({
      dkim: [{ domain: 'news.understandingwar.org', selector: null, result: 'pass', aligned: null }],
      dmarc: { result: 'fail', policy: 'reject', domain: 'understandingwar.org' },
    });
    expect(authenticatedFor(strict, 'understandingwar.org').ok).toBe(false);
  });

  it('says when the failure is temporary', () => {
    const temp = verdict({ dmarc: { result: 'temperror', policy: null, domain: null } });
    expect(authenticatedFor(temp, 'understandingwar.org')).toEqual({ ok: false, temporary: true });
  });

  it('aligns parent and child domains, never unrelated ones', () => {
    expect(relaxedAligned('understandingwar.org', 'mail.understandingwar.org')).toBe(true);
    expect(relaxedAligned('understandingwar.org', 'evil-understandingwar.org')).toBe(false);
  });
});

describe('decideSender', () => {
  const isw = head('From: ISW Publications <publications@understandingwar.org>');

  it('accepts authenticated ISW mail and holds mail that fails, with the verdict', () => {
    expect(decideSender(isw, PASS, POLICY)).toMatchObject({ action: 'accept', kind: 'isw' });
    const held = decideSender(isw, FAIL, POLICY);
    expect(held).toMatchObject({
      action: 'hold',
      code: 'AUTH_FAILED',
      sender: 'publications@understandingwar.org',
    });
    expect(held.action === 'hold' ? held.auth : '').toContain('dmarc=fail');
  });

  it('defers on a temporary DNS error', () => {
    const temp = verdict({ dmarc: { result: 'temperror', policy: null, domain: null }, note: 'timed out' });
    expect(decideSender(isw, temp, POLICY)).toMatchObject({ action: 'defer' });
  });

  it('ignores other senders without asking for a verdict', () => {
    const other = head('From: news@example.org');
    expect(needsVerdict(other, POLICY)).toBe(false);
    expect(needsVerdict(isw, POLICY)).toBe(true);
    expect(decideSender(other, null, POLICY)).toMatchObject({ action: 'ignore', sender: 'news@example.org' });
  });

  it('accepts a trusted forwarder only when the forwarder’s own domain authenticates', () => {
    const fwd = head('From: ops@example.kr');
    const ok = verdict({ dmarc: { result: 'pass', policy: 'none', domain: 'example.kr' } });
    expect(decideSender(fwd, ok, POLICY)).toMatchObject({ action: 'accept', kind: 'forward' });
    expect(decideSender(fwd, verdict({}), POLICY)).toMatchObject({ action: 'hold', code: 'AUTH_FAILED' });
  });

  it('holds several From addresses and unverified mail', () => {
    expect(decideSender(head('From: a@understandingwar.org, b@x.example'), PASS, POLICY)).toMatchObject({
      action: 'hold',
      code: 'MULTIPLE_FROM',
    });
    expect(decideSender(isw, null, POLICY)).toMatchObject({ action: 'hold', code: 'NOT_VERIFIED' });
  });

  it('in trust-header mode reads the trusted server’s header itself', () => {
    const policy: SenderPolicy = { ...POLICY, mode: 'trust-header' };
    const signed = head(
      'Authentication-Results: mx.google.com; dkim=pass header.i=@understandingwar.org; dmarc=pass header.from=understandingwar.org',
      'From: publications@understandingwar.org',
    );
    expect(decideSender(signed, null, policy)).toMatchObject({ action: 'accept' });
    expect(decideSender(isw, null, policy)).toMatchObject({ action: 'hold', code: 'NO_TRUSTED_HEADER' });
    expect(needsVerdict(signed, policy)).toBe(false);
  });

  it('in off mode accepts allowed senders unchecked, and still ignores everyone else', () => {
    const policy: SenderPolicy = { ...POLICY, mode: 'off' };
    expect(decideSender(isw, null, policy)).toMatchObject({ action: 'accept', auth: 'not checked' });
    expect(decideSender(head('From: x@example.org'), null, policy)).toMatchObject({ action: 'ignore' });
  });
});
