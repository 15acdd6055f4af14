// Dates: ISW's body date lines, US Eastern offsets across DST (EST vs EDT, both switch days), the Date-header fallback, and quoted forward dates read on the forwarder's clock.
import { describe, expect, it } from 'vitest';
import {
  isoInZone,
  ISW_TIME_ZONE,
  offsetMinutes,
  parseDateLine,
  zonedIso,
  type WallTime,
} from '../../src/parse/dates.js';
import { parseEmail } from '../../src/parse/index.js';

function wall(year: number, month: number, day: number, hour: number, minute: number): WallTime {
  return { year, month, day, hour, minute, second: 0 };
}

describe('parseDateLine', () => {
  it.each([
    ['March 2, 2025, 7:45 pm ET', wall(2025, 3, 2, 19, 45)],
    ['May 14, 2025, 5:50 pm ET', wall(2025, 5, 14, 17, 50)],
    ['Mar. 2, 2025 7:45 PM EST', wall(2025, 3, 2, 19, 45)],
    ['Sunday, March 2, 2025 at 7:45 p.m. ET', wall(2025, 3, 2, 19, 45)],
    ['March 2, 2025, 7 pm ET', wall(2025, 3, 2, 19, 0)],
    ['March 2, 2025, 12:05 am ET', wall(2025, 3, 2, 0, 5)],
    ['March 2, 2025, 12:30 pm ET', wall(2025, 3, 2, 12, 30)],
  ])('%s → a wall time with its time', (line, expected) => {
    expect(parseDateLine(line)).toEqual({ wall: expected, hasTime: true });
  });

  it('a bare date has no time', () => {
    expect(parseDateLine('January 26, 2024')).toEqual({ wall: wall(2024, 1, 26, 0, 0), hasTime: false });
  });

  it.each([
    'Information Cutoff: 2:00 pm ET',
    'March 2025',
    'March 32, 2025',
    'On March 2, 2025, Russian forces attacked near Toretsk.',
    'Click here to read a new factsheet on the Istanbul Protocol Draft Document of April 15, 2022.',
  ])('%s → not a date line', (line) => {
    expect(parseDateLine(line)).toBeNull();
  });
});

describe('US Eastern offsets', () => {
  it.each([
    ['winter (EST)', wall(2025, 3, 2, 19, 45), '2025-03-02T19:45:00-05:00'],
    ['summer (EDT)', wall(2025, 5, 14, 17, 50), '2025-05-14T17:50:00-04:00'],
    ['January 2024 (EST)', wall(2024, 1, 26, 21, 57), '2024-01-26T21:57:00-05:00'],
    ['the spring-forward day, before 2 am (EST)', wall(2025, 3, 9, 1, 30), '2025-03-09T01:30:00-05:00'],
    ['the spring-forward day, after 3 am (EDT)', wall(2025, 3, 9, 3, 30), '2025-03-09T03:30:00-04:00'],
    ['the fall-back day, before 1 am (EDT)', wall(2025, 11, 2, 0, 30), '2025-11-02T00:30:00-04:00'],
    [
      'the fall-back day, the repeated hour: its first pass (EDT)',
      wall(2025, 11, 2, 1, 30),
      '2025-11-02T01:30:00-04:00',
    ],
    ['the fall-back day, after 2 am (EST)', wall(2025, 11, 2, 2, 30), '2025-11-02T02:30:00-05:00'],
  ])('%s', (_when, time, iso) => {
    expect(zonedIso(time, ISW_TIME_ZONE)).toBe(iso);
  });

  it('an instant shown in Eastern time and in Seoul', () => {
    const instant = new Date('2025-03-03T03:14:09Z');
    expect(isoInZone(instant, ISW_TIME_ZONE)).toBe('2025-03-02T22:14:09-05:00');
    expect(isoInZone(instant, 'Asia/Seoul')).toBe('2025-03-03T12:14:09+09:00');
    expect(isoInZone(new Date('2025-05-14T22:41:27Z'), ISW_TIME_ZONE)).toBe('2025-05-14T18:41:27-04:00');
  });

  it('offsets in minutes, from the tz database', () => {
    expect(offsetMinutes(Date.parse('2025-01-15T12:00:00Z'), ISW_TIME_ZONE)).toBe(-300);
    expect(offsetMinutes(Date.parse('2025-07-15T12:00:00Z'), ISW_TIME_ZONE)).toBe(-240);
    expect(offsetMinutes(Date.parse('2025-07-15T12:00:00Z'), 'Asia/Seoul')).toBe(540);
  });
});

/** A small HTML newsletter from ISW; `dateLine` goes under the byline when given. */
function iswEmail(dateHeader: string, dateLine: string | null, extraHtml = ''): string {
  const body =
    '<h1>Russian Offensive Campaign Assessment</h1><p>Jane Doe and John Roe</p>' +
    (dateLine === null ? '' : `<p>${dateLine}</p>`) +
    '<hr><p>Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked in Kursk Oblast.</p>' +
    extraHtml;
  return [
    'From: ISW Publications <publications@understandingwar.org>',
    'To: isw-inbox@example.com',
    'Subject: Russian Offensive Campaign Assessment, July 4, 2025',
    `Date: ${dateHeader}`,
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<html><body>${body}</body></html>`,
  ].join('\r\n');
}

describe('publishedAt of a whole email', () => {
  it('the body date line wins over the Date header', async () => {
    const r = await parseEmail(iswEmail('Sat, 5 Jul 2025 02:10:00 +0000', 'July 4, 2025, 8:15 pm ET'));
    expect(r.publishedAt).toBe('2025-07-04T20:15:00-04:00');
    expect(r.publishedAtSource).toBe('body');
  });

  it.each([
    ['summer, written in UTC', 'Sat, 5 Jul 2025 02:10:33 +0000', '2025-07-04T22:10:00-04:00'],
    ['winter, written in EST', 'Fri, 26 Jan 2024 21:57:33 -0500 (EST)', '2024-01-26T21:57:00-05:00'],
    ['written in Seoul time', 'Mon, 3 Mar 2025 12:14:09 +0900', '2025-03-02T22:14:00-05:00'],
  ])(
    'without a date line: the Date header (%s), in Eastern time, to the minute',
    async (_what, header, iso) => {
      const r = await parseEmail(iswEmail(header, null));
      expect(r.publishedAt).toBe(iso);
      expect(r.publishedAtSource).toBe('header');
    },
  );
});

describe('the quoted Date of an inline forward', () => {
  /** A Gmail-style forward of a report that has no date line, so publishedAt comes from the quote. */
  function gmailForward(forwardDate: string, quotedDate: string): string {
    const original = iswEmail('Fri, 4 Jul 2025 22:10:00 -0400', null);
    const originalBody = original.slice(original.indexOf('<html><body>') + 12, original.indexOf('</body>'));
    return [
      'From: Kim Minjun <minjun.kim@example.kr>',
      'To: isw-inbox@example.com',
      'Subject: Fwd: Russian Offensive Campaign Assessment, July 4, 2025',
      `Date: ${forwardDate}`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<div dir="ltr"><div class="gmail_quote"><div class="gmail_attr">---------- Forwarded message ---------<br>' +
        'From: ISW Publications &lt;publications@understandingwar.org&gt;<br>' +
        `Date: ${quotedDate}<br>Subject: Russian Offensive Campaign Assessment, July 4, 2025<br>` +
        `To: &lt;minjun.kim@example.kr&gt;<br></div><br><br>${originalBody}</div></div>`,
    ].join('\r\n');
  }

  it('a zone-less Gmail date is on the forwarder’s clock: the zone of the forward’s own Date header', async () => {
    // 10:10 PM EDT on July 4 is 11:10 AM on July 5 in Seoul.
    const r = await parseEmail(
      gmailForward('Sat, 5 Jul 2025 13:00:00 +0900', 'Sat, Jul 5, 2025 at 11:10 AM'),
    );
    expect(r.publishedAt).toBe('2025-07-04T22:10:00-04:00');
    expect(r.forwardedBy).toEqual({ name: 'Kim Minjun', address: 'minjun.kim@example.kr' });
  });

  it('without a usable zone on the forward ("-0000" = unknown), the quoted time is read as US Eastern', async () => {
    const r = await parseEmail(
      gmailForward('Sat, 5 Jul 2025 04:00:00 -0000', 'Fri, Jul 4, 2025 at 10:10 PM'),
    );
    expect(r.publishedAt).toBe('2025-07-04T22:10:00-04:00');
  });

  it('a quoted date with its own zone (Apple Mail) needs no guessing', async () => {
    const r = await parseEmail(
      gmailForward('Sat, 5 Jul 2025 13:00:00 +0900', 'July 5, 2025 at 11:10:00 AM GMT+9'),
    );
    expect(r.publishedAt).toBe('2025-07-04T22:10:00-04:00');
  });
});
