// An HTML-only copy and each way a person forwards a report (Gmail, Apple Mail, Outlook classic and modern inline; as an attached message/rfc822) give the same report as the original email.
import { describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { parseEmail, type Report } from '../../src/parse/index.js';
import {
  EASTERN_FORWARDER,
  FORWARD_VARIANTS,
  SEOUL_FORWARDER,
  fixtureNames,
  htmlOnlyCopy,
  isInlineForward,
  originalParts,
  readFixture,
  type ForwardVariant,
  type Forwarder,
} from '../support/fixtures.js';

/**
 * The fields a forward may legitimately change:
 * - `receivedAt`: when *our* mailbox got the forward, not the original;
 * - `forwardedBy`: who forwarded it (null for the original);
 * - `messageId`, for inline forwards only: a client quoting the original in its body keeps From,
 *   Date and Subject but not the Message-ID, so it cannot be recovered (an attached message/rfc822
 *   keeps its headers, Message-ID included, so there it must match).
 * Every other field — fingerprint and warnings included — must be identical.
 */
function comparable(report: Report, dropMessageId: boolean): Record<string, unknown> {
  const excluded = new Set<string>(['receivedAt', 'forwardedBy', ...(dropMessageId ? ['messageId'] : [])]);
  return Object.fromEntries(Object.entries(report).filter(([key]) => !excluded.has(key)));
}

const VARIANTS = Object.keys(FORWARD_VARIANTS) as ForwardVariant[];
const FORWARDERS: readonly Forwarder[] = [SEOUL_FORWARDER, EASTERN_FORWARDER];

describe.each(fixtureNames())('%s', (name) => {
  const original = (): Promise<Report> => parseEmail(readFixture(name));

  it('HTML-only copy: the very same report, every field', async () => {
    const copy = htmlOnlyCopy(readFixture(name));
    expect(await parseEmail(copy)).toEqual(await original());
  });

  describe.each(VARIANTS)('forwarded (%s)', (variant) => {
    it.each(FORWARDERS.map((f) => [f.timeZone, f] as const))(
      'by a reader in %s: the same report as the original',
      async (_zone, forwarder) => {
        const forwarded = await FORWARD_VARIANTS[variant](readFixture(name), forwarder);
        const [report, expected] = await Promise.all([parseEmail(forwarded), original()]);
        const inline = isInlineForward(variant);
        expect(comparable(report, inline)).toEqual(comparable(expected, inline));
        expect(report.forwardedBy).toEqual({ name: forwarder.name, address: forwarder.address });
        expect(report.messageId).toBe(inline ? null : expected.messageId);
      },
    );
  });
});

// The builders must produce what they claim, or the equality above would prove little.
describe('the forward builders', () => {
  const raw = readFixture('isw-roca-2025-03-02.eml');

  it('HTML-only copy has one text/html part and the original headers', async () => {
    const copy = htmlOnlyCopy(raw);
    expect(copy.toString('latin1')).not.toMatch(/text\/plain|multipart/i);
    const mail = await simpleParser(copy);
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'text/html' });
    expect(mail.html).toContain('Key Takeaways:');
    expect(mail.messageId).toBe('<1143272119938.1102962356512.1941916581.0.231018JL.2002@synd.ccsend.com>');
  });

  it.each([
    ['gmail', 'Fwd: ', '<div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>'],
    ['apple-mail', 'Fwd: ', '<div>Begin forwarded message:</div>'],
    ['outlook', 'FW: ', '-----Original Message-----<br>From: ISW Publications'],
    ['outlook-modern', 'FW: ', '<p class="MsoNormal"><b>From:</b> ISW Publications'],
  ] as const)('%s forward quotes the original inline', async (variant, prefix, marker) => {
    const mail = await simpleParser(await FORWARD_VARIANTS[variant](raw, SEOUL_FORWARDER));
    expect(mail.subject).toBe(`${prefix}Russian Offensive Campaign Assessment, March 2, 2025`);
    expect(mail.from?.value[0]?.address).toBe(SEOUL_FORWARDER.address);
    expect(mail.html).toContain(marker);
    expect(mail.html).toContain('Key Takeaways:');
    expect(mail.attachments).toHaveLength(0);
  });

  it('quotes the original date on the forwarder’s clock, as the clients do', async () => {
    // Sun, 2 Mar 2025 22:14:09 -0500 is Mon, 3 Mar 2025 12:14:09 in Seoul.
    const gmail = await simpleParser(await FORWARD_VARIANTS.gmail(raw, SEOUL_FORWARDER));
    expect(gmail.html).toContain('Date: Mon, Mar 3, 2025 at 12:14 PM<br>');
    const apple = await simpleParser(await FORWARD_VARIANTS['apple-mail'](raw, SEOUL_FORWARDER));
    expect(apple.text).toContain('Date: March 3, 2025 at 12:14:09 PM GMT+9\n');
    const outlook = await simpleParser(await FORWARD_VARIANTS.outlook(raw, EASTERN_FORWARDER));
    expect(outlook.text).toContain('Sent: Sunday, March 2, 2025 10:14 PM\n');
    expect(gmail.headers.get('date')).toEqual(new Date('2025-03-03T05:14:09Z'));
  });

  it.each(['attachment', 'inline'] as const)(
    'attachment forward carries the original byte for byte as message/rfc822 (%s)',
    async (disposition) => {
      const variant = disposition === 'attachment' ? 'attachment' : 'attachment-inline';
      const forwarded = await FORWARD_VARIANTS[variant](raw, SEOUL_FORWARDER);
      const text = forwarded.toString('latin1');
      expect(text).toMatch(/Content-Type: message\/rfc822/i);
      expect(text).toMatch(new RegExp(`Content-Disposition: ${disposition}`, 'i'));
      const mail = await simpleParser(forwarded);
      expect(mail.subject).toBe('Fwd: Russian Offensive Campaign Assessment, March 2, 2025');
      expect(mail.text).toContain(SEOUL_FORWARDER.note ?? '');
      expect(text).toContain(raw.toString('latin1').slice(0, 2000));
    },
  );
});

describe('a client that quotes the whole original document', () => {
  it('keeps the quoted header block before the original’s own <html><head><body>', async () => {
    const raw = readFixture('isw-roca-2025-03-02.eml');
    const { html } = originalParts(raw);
    if (html === null) throw new Error('the fixture lost its HTML part');
    const forwarded = [
      'From: Kim Minjun <minjun.kim@example.kr>',
      'To: isw-inbox@example.com',
      'Subject: Fwd: Russian Offensive Campaign Assessment, March 2, 2025',
      'Date: Mon, 03 Mar 2025 14:14:09 +0900',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<div dir="ltr"><div class="gmail_quote">---------- Forwarded message ---------<br>' +
        'From: ISW Publications &lt;publications@understandingwar.org&gt;<br>' +
        'Date: Mon, Mar 3, 2025 at 12:14 PM<br>Subject: Russian Offensive Campaign Assessment, March 2, 2025<br>' +
        `To: &lt;isw-inbox@example.com&gt;<br><br><br>${html}</div></div>`,
    ].join('\r\n');
    const [report, expected] = await Promise.all([parseEmail(forwarded), parseEmail(raw)]);
    expect(comparable(report, true)).toEqual(comparable(expected, true));
    expect(report.forwardedBy).toEqual({ name: 'Kim Minjun', address: 'minjun.kim@example.kr' });
  });
});

describe('not a forward', () => {
  it('a paragraph that merely starts with "From:" lines is body text, not a quoted header', async () => {
    const raw = [
      'From: ISW Publications <publications@understandingwar.org>',
      'To: isw-inbox@example.com',
      'Subject: Russian Offensive Campaign Assessment, July 4, 2025',
      'Date: Fri, 4 Jul 2025 22:10:00 -0400',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<h1>Russian Offensive Campaign Assessment</h1><hr>' +
        '<p>Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked in Kursk.</p>' +
        '<p>From: the Kremlin’s readout<br>Date: July 4<br>To: the Russian public</p>',
    ].join('\r\n');
    const report = await parseEmail(raw);
    expect(report.forwardedBy).toBeNull();
    expect(report.source).toBe('isw');
    expect(report.paragraphs[1]).toEqual({
      type: 'text',
      text: 'From: the Kremlin’s readout Date: July 4 To: the Russian public',
    });
  });
});
