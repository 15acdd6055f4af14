// Covers our own DKIM/SPF/DMARC check (mailauth with a stub DNS, no network): signed, unsigned, tampered and foreign-signed mail, SPF from the Received header, DNS failures and timeouts.
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/inbox/authenticate.js';
import { summarizeVerdict } from '../../src/inbox/auth-verdict.js';
import {
  createSigningKey,
  dnsFor,
  iswMessage,
  setHeader,
  signMessage,
  stripHeaders,
  StubDns,
} from '../support/dkim.js';
import { readFixture } from '../support/fixtures.js';

const ISW = createSigningKey('understandingwar.org', 'unit');
const CC = createSigningKey('auth.ccsend.com', 'unit');

describe('createVerifier', () => {
  it('passes DKIM and DMARC for mail signed by the From domain', async () => {
    const verify = createVerifier({ resolver: dnsFor(ISW).resolver });
    const v = await verify(await signMessage(iswMessage(), ISW));
    expect(v.dkim).toEqual([
      { domain: 'understandingwar.org', selector: 'unit', result: 'pass', aligned: true },
    ]);
    expect(v.dmarc).toMatchObject({ result: 'pass', policy: 'reject', domain: 'understandingwar.org' });
    expect(summarizeVerdict(v)).toContain('dmarc=pass');
  });

  it('fails DMARC for unsigned mail, mail signed by someone else, and a tampered body', async () => {
    const verify = createVerifier({ resolver: dnsFor(ISW, CC).resolver });
    const unsigned = await verify(iswMessage());
    expect(unsigned.dkim).toEqual([]);
    expect(unsigned.dmarc?.result).toBe('fail');
    const foreign = await verify(await signMessage(iswMessage(), CC));
    expect(foreign.dkim[0]).toMatchObject({ domain: 'auth.ccsend.com', result: 'pass', aligned: false });
    expect(foreign.dmarc?.result).toBe('fail');
    const signed = await signMessage(iswMessage(), ISW);
    const tampered = Buffer.from(signed.toString('latin1').replace('Ukrainian', 'Ukrainain'), 'latin1');
    const t = await verify(tampered);
    expect(t.dkim[0]?.result).not.toBe('pass');
    expect(t.dmarc?.result).toBe('fail');
  });

  it('checks SPF with the client IP of the topmost Received header', async () => {
    const dns = dnsFor(ISW).publishTxt('in.constantcontact.com', 'v=spf1 ip4:208.75.123.0/24 -all');
    const verify = createVerifier({ resolver: dns.resolver });
    // The fixture arrived from 208.75.123.225 with MAIL FROM …@in.constantcontact.com.
    const v = await verify(readFixture('isw-roca-2025-03-02.eml'));
    expect(v.spf).toEqual({ domain: 'in.constantcontact.com', result: 'pass' });
    // Not aligned with understandingwar.org, and the fixture's signatures do not verify.
    expect(v.dmarc?.result).toBe('fail');
    expect(dns.queries).toContain('TXT in.constantcontact.com');
  });

  it('passes on an aligned DKIM signature when the domain publishes no DMARC record', async () => {
    const dns = new StubDns().publishKey(ISW); // no _dmarc record
    const v = await createVerifier({ resolver: dns.resolver })(await signMessage(iswMessage(), ISW));
    expect(v.dmarc).toEqual({ result: 'none', policy: null, domain: 'understandingwar.org' });
    expect(v.dkim[0]).toMatchObject({ result: 'pass', aligned: true });
    expect(summarizeVerdict(v)).not.toContain('undefined');
  });

  it('reports SPF as none, not a temporary error, when there is no Received header to take an IP from', async () => {
    const noTrace = stripHeaders(iswMessage(), ['Received', 'Return-Path']);
    const v = await createVerifier({ resolver: dnsFor(ISW).resolver })(await signMessage(noTrace, ISW));
    expect(v.spf).toEqual({ domain: null, result: 'none' });
    expect(v.dmarc?.result).toBe('pass'); // DKIM carries it
  });

  it('turns DNS failures and a hanging resolver into temperror', async () => {
    const dns = dnsFor(ISW).fail('_dmarc.understandingwar.org');
    const failing = await createVerifier({ resolver: dns.resolver })(await signMessage(iswMessage(), ISW));
    expect(failing.dmarc?.result).toBe('temperror');
    const hanging = createVerifier({ resolver: () => new Promise(() => undefined), timeoutMs: 100 });
    const v = await hanging(iswMessage());
    expect(v.dmarc?.result).toBe('temperror');
    expect(v.note).toContain('timed out');
  });

  it('never passes a message it cannot read', async () => {
    const v = await createVerifier({ resolver: new StubDns().resolver })(
      setHeader(Buffer.from('\r\n'), 'From', '@@@'),
    );
    expect(v.dmarc?.result).not.toBe('pass');
    expect(v.dkim.every((d) => d.result !== 'pass')).toBe(true);
  });
});
