// Covers the RFC 8601 Authentication-Results parser and the choice of the trusted (topmost) header for trust-header mode.
import { describe, expect, it } from 'vitest';
import { parseAuthenticationResults, verdictFromHeaders } from '../../src/inbox/authentication-results.js';
import { headerSection, headerValues } from '../../src/inbox/message-headers.js';
import { readFixture } from '../support/fixtures.js';

const GMAIL =
  'mx.google.com;\r\n       dkim=pass header.i=@understandingwar.org header.s=2020371854 header.b=XvHBByAY;\r\n' +
  '       spf=pass (google.com: domain of x@in.constantcontact.com designates 208.75.123.226 as permitted sender; really) smtp.mailfrom=x@in.constantcontact.com;\r\n' +
  '       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=understandingwar.org';

describe('parseAuthenticationResults', () => {
  it('reads Gmail’s header: header.i instead of header.d, comments containing ";"', () => {
    const parsed = parseAuthenticationResults(GMAIL);
    expect(parsed?.authservId).toBe('mx.google.com');
    expect(parsed?.results.map((r) => `${r.method}=${r.result}`)).toEqual([
      'dkim=pass',
      'spf=pass',
      'dmarc=pass',
    ]);
    expect(parsed?.results[0]?.props['header.i']).toBe('@understandingwar.org');
    expect(parsed?.results[1]?.props['smtp.mailfrom']).toBe('x@in.constantcontact.com');
    expect(parsed?.results[2]?.props['header.from']).toBe('understandingwar.org');
  });

  it('handles a version, quoted values, spaces around "=", a reason, and "none"', () => {
    const parsed = parseAuthenticationResults(
      'example.net 1; dkim/1 = fail reason="bad (sig)" header.d = "ex;ample.com"; spf=none',
    );
    expect(parsed?.authservId).toBe('example.net');
    expect(parsed?.results[0]).toEqual({
      method: 'dkim',
      result: 'fail',
      reason: 'bad (sig)',
      props: { 'header.d': 'ex;ample.com' },
    });
    expect(parsed?.results[1]).toMatchObject({ method: 'spf', result: 'none' });
    expect(parsed?.results).toHaveLength(2);
    expect(parseAuthenticationResults('mx.example.org; none')).toEqual({
      authservId: 'mx.example.org',
      results: [],
    });
    expect(parseAuthenticationResults('   ')).toBeNull();
  });
});

describe('verdictFromHeaders', () => {
  it('takes the topmost header of a trusted server, ignoring anything else (RFC 8601 §5, §7.1)', () => {
    const forgedBelow = 'mx.google.com; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example';
    const untrustedAbove = 'mx.attacker.example; dmarc=pass header.from=understandingwar.org';
    const verdict = verdictFromHeaders([untrustedAbove, GMAIL, forgedBelow], ['mx.google.com']);
    expect(verdict).toMatchObject({
      source: 'header',
      authservId: 'mx.google.com',
      dkim: [{ domain: 'understandingwar.org', selector: '2020371854', result: 'pass', aligned: null }],
      spf: { domain: 'in.constantcontact.com', result: 'pass' },
      dmarc: { result: 'pass', domain: 'understandingwar.org' },
    });
    expect(verdictFromHeaders([untrustedAbove], ['mx.google.com'])).toBeNull();
  });

  it('reads the fixtures’ mx1.example.com header', () => {
    const head = headerSection(readFixture('isw-roca-2025-03-02.eml'));
    const verdict = verdictFromHeaders(headerValues(head, 'authentication-results'), ['mx1.example.com']);
    expect(verdict?.dkim.map((d) => d.domain)).toEqual(['understandingwar.org', 'auth.ccsend.com']);
    expect(verdict?.dmarc).toMatchObject({ result: 'pass', domain: 'understandingwar.org' });
  });
});
