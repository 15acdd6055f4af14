// Bad input gives a typed ParseError with the right code (empty, too large, broken MIME, no text, invalid charset, timeout); a 30 MB attachment parses quickly; garbage never escapes as an untyped exception.
import { describe, expect, it } from 'vitest';
import MailComposer from 'nodemailer/lib/mail-composer';
import {
  DEFAULT_PARSE_OPTIONS,
  ParseError,
  parseEmail,
  type ParseErrorCode,
  type ParseOptions,
} from '../../src/parse/index.js';
import { readMime } from '../../src/parse/read-mime.js';
import { fixtureNames, originalParts, readFixture } from '../support/fixtures.js';

const HEADERS = [
  'From: ISW Publications <publications@understandingwar.org>',
  'To: isw-inbox@example.com',
  'Subject: Russian Offensive Campaign Assessment, March 2, 2025',
  'Date: Sun, 2 Mar 2025 22:14:09 -0500',
  'Message-ID: <bad-input@example.com>',
  'MIME-Version: 1.0',
];

/** A message from header lines and a body, with CRLF line ends as on the wire. */
function message(extraHeaders: readonly string[], body: string | Buffer): Buffer {
  const head = Buffer.from(`${[...HEADERS, ...extraHeaders].join('\r\n')}\r\n\r\n`, 'latin1');
  return Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'latin1') : body]);
}

/** The ParseError a parse fails with; fails the test if it succeeds or throws anything else. */
async function parseError(raw: Buffer | string | Uint8Array, options?: ParseOptions): Promise<ParseError> {
  let report: unknown;
  try {
    report = await parseEmail(raw, options);
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw new Error(`expected a ParseError, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected a ParseError, got a report: ${JSON.stringify(report).slice(0, 200)}`);
}

async function expectCode(raw: Buffer | string | Uint8Array, code: ParseErrorCode, options?: ParseOptions) {
  const err = await parseError(raw, options);
  expect(err.code, err.message).toBe(code);
  // Typed, classified and explained: what is wrong, and what to do about it.
  expect(err.name).toBe('ParseError');
  expect(err.kind).toBe('user');
  expect(err.message.length).toBeGreaterThan(10);
  expect(err.hint).toEqual(expect.any(String));
  return err;
}

/** The 2025-03-02 report's HTML and text with a 30 MB PDF attached (about 41 MB once in base64). */
async function withBigAttachment(): Promise<Buffer> {
  const { headers, html, text } = originalParts(readFixture('isw-roca-2025-03-02.eml'));
  if (html === null || text === null) throw new Error('the fixture lost its parts');
  return new MailComposer({
    from: headers.from,
    to: headers.to,
    subject: headers.subject,
    date: headers.date,
    messageId: '<big-attachment@example.com>',
    html,
    text,
    attachments: [
      { filename: 'maps.pdf', contentType: 'application/pdf', content: Buffer.alloc(30 * 1024 * 1024, 0x25) },
    ],
  })
    .compile()
    .build();
}

describe('empty message', () => {
  it.each([
    ['no bytes', Buffer.alloc(0)],
    ['an empty string', ''],
    ['an empty Uint8Array', new Uint8Array(0)],
    ['only white space and line breaks', ' \r\n\r\n\t \n'],
  ] as const)('%s → EMPTY_MESSAGE', async (_what, raw) => {
    await expectCode(raw, 'EMPTY_MESSAGE');
  });
});

describe('message too large', () => {
  it('a message over maxMessageBytes → MESSAGE_TOO_LARGE, saying both sizes', async () => {
    const raw = await withBigAttachment();
    const err = await expectCode(raw, 'MESSAGE_TOO_LARGE', {
      ...DEFAULT_PARSE_OPTIONS,
      maxMessageBytes: 10_000_000,
    });
    expect(err.message).toContain(String(raw.length));
    expect(err.message).toContain('10000000');
  });
});

describe('a 30 MB attachment', () => {
  it('parses fine and quickly, the report untouched by it', async () => {
    const raw = await withBigAttachment();
    expect(raw.length).toBeGreaterThan(40_000_000);
    const started = performance.now();
    const report = await parseEmail(raw);
    const elapsedMs = performance.now() - started;
    // About half a second on a 2-core CI box; the bound leaves room for a loaded machine.
    expect(elapsedMs).toBeLessThan(5_000);
    const original = await parseEmail(readFixture('isw-roca-2025-03-02.eml'));
    expect(report.keyTakeaways).toEqual(original.keyTakeaways);
    expect(report.paragraphs).toEqual(original.paragraphs);
    expect(report.links).toEqual(original.links);
  });

  it('is drained as it streams by, not kept', async () => {
    const mime = await readMime(await withBigAttachment(), { maxAttachedMessageBytes: 50_000_000 });
    expect(mime.attachedMessages).toEqual([]);
    expect(mime.html?.length ?? 0).toBeLessThan(100_000);
  });

  it('an attached email larger than the limit is skipped with a warning, not kept', async () => {
    const inner = await withBigAttachment();
    const outer = await new MailComposer({
      from: 'Kim Minjun <minjun.kim@example.kr>',
      to: 'isw-inbox@example.com',
      subject: 'Fwd: big',
      text: 'See the attached report.',
      attachments: [{ content: inner, contentType: 'message/rfc822', filename: 'report.eml' }],
    })
      .compile()
      .build();
    const mime = await readMime(outer, { maxAttachedMessageBytes: 1_000_000 });
    expect(mime.attachedMessages).toEqual([]);
    expect(mime.warnings).toEqual([
      expect.stringMatching(/attached email of \d+ bytes was larger than 1000000/),
    ]);
  });
});

describe('broken MIME → MALFORMED_MIME', () => {
  it('no header section: a body with no header lines', async () => {
    const err = await expectCode(
      'Key Takeaways:\r\n\r\nRussian forces advanced near Toretsk.\r\n',
      'MALFORMED_MIME',
    );
    expect(err.message).toMatch(/header/);
  });

  it('no header section: blank lines, then body text', async () => {
    await expectCode('\r\n\r\nRussian forces advanced near Toretsk.\r\n', 'MALFORMED_MIME');
  });

  it('(not broken: blank lines before a real header section are skipped)', async () => {
    const raw = readFixture('isw-roca-2025-03-02.eml');
    const padded = Buffer.concat([Buffer.from('\r\n\r\n'), raw]);
    expect(await parseEmail(padded)).toEqual(await parseEmail(raw));
  });

  it('binary garbage where the headers should be', async () => {
    await expectCode(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a, 0x41]), 'MALFORMED_MIME');
  });

  it('multipart without a boundary parameter', async () => {
    const raw = message(
      ['Content-Type: multipart/alternative'],
      '--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n',
    );
    const err = await expectCode(raw, 'MALFORMED_MIME');
    expect(err.message).toMatch(/no boundary/);
  });

  it('a boundary that never occurs in the body', async () => {
    const raw = message(
      ['Content-Type: multipart/alternative; boundary="b1_never_used"'],
      'Content-Type: text/plain\r\n\r\nhello, no parts here\r\n',
    );
    const err = await expectCode(raw, 'MALFORMED_MIME');
    expect(err.message).toContain('b1_never_used');
  });

  it('truncated: a multipart message cut inside its HTML part', async () => {
    const raw = message(
      ['Content-Type: multipart/alternative; boundary="b2"'],
      '--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Russian forces advanced near Tor',
    );
    const err = await expectCode(raw, 'MALFORMED_MIME');
    expect(err.message).toMatch(/truncated/);
  });

  it.each(fixtureNames())('truncated: %s cut at 30%, 60% and 99% of its bytes', async (name) => {
    const raw = readFixture(name);
    for (const share of [0.3, 0.6, 0.99]) {
      await expectCode(raw.subarray(0, Math.floor(raw.length * share)), 'MALFORMED_MIME');
    }
  });
});

describe('no text → NO_TEXT', () => {
  it('only an attachment', async () => {
    const raw = message(
      ['Content-Type: multipart/mixed; boundary="b3"'],
      '--b3\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n' +
        'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b3--\r\n',
    );
    await expectCode(raw, 'NO_TEXT');
  });

  it('an empty body', async () => {
    await expectCode(message(['Content-Type: text/plain; charset=utf-8'], ''), 'NO_TEXT');
  });

  it('headers and nothing else', async () => {
    await expectCode(`${HEADERS.join('\r\n')}\r\n`, 'NO_TEXT');
  });

  it('HTML with images and white space only', async () => {
    const html = '<html><body><table><tr><td><img src="logo.png"></td></tr></table>&nbsp;<br></body></html>';
    await expectCode(message(['Content-Type: text/html; charset=utf-8'], html), 'NO_TEXT');
  });
});

describe('invalid charset → INVALID_CHARSET', () => {
  it('declared UTF-8, written in Latin-1', async () => {
    const body = Buffer.from(
      'Les forces russes ont avancé près de Toretsk, à l’est; le Kremlin a nié.',
      'latin1',
    );
    const raw = message(['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], body);
    const err = await expectCode(raw, 'INVALID_CHARSET');
    expect(err.message).toContain('utf-8');
  });

  it('an unknown charset, and bytes that are not UTF-8 either (KOI8-R Russian)', async () => {
    // "Привет, мир" in KOI8-R.
    const koi8 = Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4, 0x2c, 0x20, 0xcd, 0xc9, 0xd2]);
    const raw = message(
      ['Content-Type: text/plain; charset="x-no-such-charset"', 'Content-Transfer-Encoding: 8bit'],
      koi8,
    );
    const err = await expectCode(raw, 'INVALID_CHARSET');
    expect(err.message).toContain('x-no-such-charset');
  });

  it('an unknown charset over UTF-16 text (valid UTF-8 bytes, but control characters)', async () => {
    const utf16 = Buffer.from('Российские войска продвинулись под Торецком.', 'utf16le');
    const raw = message(
      ['Content-Type: text/plain; charset="x-no-such-charset"', 'Content-Transfer-Encoding: 8bit'],
      utf16,
    );
    await expectCode(raw, 'INVALID_CHARSET');
  });

  it('in a quoted-printable HTML part of a multipart message', async () => {
    const raw = message(
      ['Content-Type: multipart/alternative; boundary="b4"'],
      '--b4\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
        '<p>Les forces russes ont avanc=E9 pr=E8s de Toretsk =E0 l=92est.</p>\r\n--b4--\r\n',
    );
    await expectCode(raw, 'INVALID_CHARSET');
  });

  it('an unknown charset whose bytes are plain ASCII parses', async () => {
    const raw = message(
      ['Content-Type: text/plain; charset="x-no-such-charset"'],
      'Russian forces advanced near Toretsk.\r\n\r\nUkrainian forces counterattacked near Pokrovsk.\r\n',
    );
    const report = await parseEmail(raw);
    expect(report.paragraphs).toEqual([
      { type: 'text', text: 'Russian forces advanced near Toretsk.' },
      { type: 'text', text: 'Ukrainian forces counterattacked near Pokrovsk.' },
    ]);
  });
});

describe('odd but not fatal: warnings', () => {
  it('an ISW email without Key Takeaways, byline, date line or full-report link parses, with a warning for each', async () => {
    const raw = message(
      ['Content-Type: text/plain; charset="utf-8"'],
      'Russian forces advanced near Toretsk.\r\n\r\nUkrainian forces counterattacked near Pokrovsk.\r\n',
    );
    const report = await parseEmail(raw);
    expect(report.source).toBe('isw');
    expect(report.warnings).toEqual([
      'no "Key Takeaways" list was found: the summary has no takeaways to translate',
      "no link to the full report was found: the post links ISW's page for the product and date",
      'no byline was found: the post names no authors',
      "no date line was found in the body: the report's date is the email's Date header",
    ]);
  });

  it('a newsletter that is not ISW gets none of them', async () => {
    const raw = message([], 'Plain text.\r\n')
      .toString('latin1')
      .replace('publications@understandingwar.org', 'news@example.org');
    expect((await parseEmail(raw)).warnings).toEqual([]);
  });
});

describe('never hangs', () => {
  it('a parse that outlasts timeoutMs → PARSE_TIMEOUT', async () => {
    const raw = await withBigAttachment();
    const started = performance.now();
    const err = await expectCode(raw, 'PARSE_TIMEOUT', { ...DEFAULT_PARSE_OPTIONS, timeoutMs: 5 });
    expect(err.message).toContain('5 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('garbage never escapes as an untyped exception', () => {
  // A fixed-seed linear congruential generator: the same inputs on every run, so a failure replays.
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
      return state / 0x80000000;
    };
  }

  const PREFIXES = [
    '',
    'From: a@example.com\r\nSubject: x\r\n\r\n',
    'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="g"\r\n\r\n--g\r\n',
    'From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    'From: a@example.com\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    'From: a@example.com\r\nContent-Type: message/rfc822\r\n\r\n',
    'From: =?utf-8?B?',
  ];
  // Characters MIME and HTML give meaning to, so the garbage reaches past the first check.
  const ALPHABET = Buffer.from('<>/="\'-:;\r\n \tabcdefgh=?QB_--g--<p><li><ul><table>&amp;&#x');

  function inputs(): Buffer[] {
    const next = random(20250302);
    const fixtures = fixtureNames().map(readFixture);
    const out: Buffer[] = [];
    for (let i = 0; i < 300; i += 1) {
      const kind = i % 4;
      if (kind === 0 || kind === 1) {
        const size = 1 + Math.floor(next() * 3000);
        const body = Buffer.alloc(size);
        for (let j = 0; j < size; j += 1) {
          body[j] =
            kind === 0 || next() < 0.3
              ? Math.floor(next() * 256)
              : (ALPHABET[Math.floor(next() * ALPHABET.length)] ?? 0);
        }
        out.push(Buffer.concat([Buffer.from(PREFIXES[i % PREFIXES.length] ?? '', 'latin1'), body]));
      } else {
        const fixture = fixtures[i % fixtures.length] ?? Buffer.alloc(0);
        const copy = Buffer.from(fixture.subarray(0, Math.max(1, Math.floor(next() * fixture.length))));
        if (kind === 3) {
          for (let j = 0; j < 40; j += 1) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
        }
        out.push(copy);
      }
    }
    return out;
  }

  it('300 deterministic pseudo-random inputs: each gives a report or a ParseError', async () => {
    const untyped: string[] = [];
    const codes = new Map<string, number>();
    for (const [i, raw] of inputs().entries()) {
      try {
        const report = await parseEmail(raw, { ...DEFAULT_PARSE_OPTIONS, timeoutMs: 10_000 });
        expect(typeof report.title).toBe('string');
        codes.set('report', (codes.get('report') ?? 0) + 1);
      } catch (err) {
        if (err instanceof ParseError) codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        else untyped.push(`input ${i}: ${String(err)}`);
      }
    }
    expect(untyped).toEqual([]);
    // The inputs reach past the first check: several kinds of failure, not one.
    expect(codes.size).toBeGreaterThanOrEqual(3);
  });
});
