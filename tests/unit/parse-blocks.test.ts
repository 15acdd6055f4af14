// HTML and plain text to blocks, and blocks to a body: lists stay lists (nesting kept), Key Takeaways counted exactly, bylines split into authors, the text part used only when there is no HTML.
import { describe, expect, it } from 'vitest';
import { parseAuthors } from '../../src/parse/authors.js';
import { fold, htmlToBlocks, textToBlocks, type Block } from '../../src/parse/blocks.js';
import { parseEmail } from '../../src/parse/index.js';
import { readLayout } from '../../src/parse/layout.js';

function texts(blocks: readonly Block[]): string[] {
  return blocks.map((b) => b.text);
}

describe('fold', () => {
  it('folds white space, no-break and zero-width spaces, and trims', () => {
    expect(fold('\u00a0Click\u00a0here \n\t to\u200bview\ufeff ')).toBe('Click here to view');
  });
});

describe('htmlToBlocks', () => {
  it('gives the visual blocks in document order, skipping head, style, script and hidden elements', () => {
    const blocks = htmlToBlocks(
      '<html><head><title>T</title><style>p{color:red}</style></head><body>' +
        '<div id="preheader" style="color: transparent; display: none; max-height: 0px;">Preview text</div>' +
        '<script>var x = 1;</script><h1>Iran Update</h1><table><tr><td><p>First&nbsp;paragraph</p>' +
        '<p>Second\n   paragraph</p></td></tr></table><div hidden>secret</div></body></html>',
    );
    expect(texts(blocks)).toEqual(['Iran Update', 'First paragraph', 'Second paragraph']);
    expect(blocks.map((b) => b.tag)).toEqual(['h1', 'p', 'p']);
  });

  it('keeps <br> breaks as lines (a quoted forward header needs them)', () => {
    const [block] = htmlToBlocks(
      '<p>---------- Forwarded message ---------<br>From: A &lt;a@example.com&gt;<br>Date: x</p>',
    );
    expect(block?.lines).toEqual([
      '---------- Forwarded message ---------',
      'From: A <a@example.com>',
      'Date: x',
    ]);
    expect(block?.text).toBe('---------- Forwarded message --------- From: A <a@example.com> Date: x');
  });

  it('keeps links with their own text and the href as given (entities decoded)', () => {
    const [block] = htmlToBlocks(
      '<p><a href=" https://r20.rs6.net/tn.jsp?f=001&amp;c=2&amp;ch=3 ">Click here</a> to read the full assessment.</p>',
    );
    expect(block?.text).toBe('Click here to read the full assessment.');
    expect(block?.links).toEqual([{ text: 'Click here', href: 'https://r20.rs6.net/tn.jsp?f=001&c=2&ch=3' }]);
  });

  it('records image alt texts, and an image without alt (or <hr>) as a divider', () => {
    const blocks = htmlToBlocks(
      '<div><img alt="ISW Logo" src="l.png"></div><div><img src="line.png"></div><hr><p>x</p>',
    );
    expect(blocks.map((b) => [b.text, b.images, b.separator])).toEqual([
      ['', ['ISW Logo'], false],
      ['', [''], true],
      ['', [], true],
      ['x', [], false],
    ]);
  });

  it('gives list items their list, order and nesting depth', () => {
    const blocks = htmlToBlocks(
      '<ul><li>A<ul><li>A1</li><li>A2<ol><li>A2a</li></ol></li></ul></li><li>B</li></ul><ol><li>One</li></ol>',
    );
    expect(blocks.map((b) => [b.text, b.list])).toEqual([
      ['A', { id: 1, ordered: false, depth: 0 }],
      ['A1', { id: 2, ordered: false, depth: 1 }],
      ['A2', { id: 2, ordered: false, depth: 1 }],
      ['A2a', { id: 3, ordered: true, depth: 2 }],
      ['B', { id: 1, ordered: false, depth: 0 }],
      ['One', { id: 4, ordered: true, depth: 0 }],
    ]);
  });
});

describe('readLayout: the body', () => {
  const layout = (html: string) => readLayout(htmlToBlocks(html), { knownProduct: null });
  const INTRO =
    '<h1>Russian Offensive Campaign Assessment</h1><hr>' +
    '<p>Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked in Kursk Oblast.</p>';

  it('lists inside the body stay lists, with their nesting, in place', () => {
    const body = layout(
      `${INTRO}<p>Russian forces attacked in three directions:</p>` +
        '<ul><li>Kupyansk<ul><li>Petropavlivka</li><li>Kolisnykivka</li></ul></li><li>Pokrovsk</li></ul>' +
        '<ol><li>First</li><li>Second</li></ol><p>After the lists.</p>',
    );
    expect(body.paragraphs.slice(1)).toEqual([
      { type: 'text', text: 'Russian forces attacked in three directions:' },
      {
        type: 'list',
        ordered: false,
        items: ['Kupyansk', 'Petropavlivka', 'Kolisnykivka', 'Pokrovsk'],
        levels: [0, 1, 1, 0],
      },
      { type: 'list', ordered: true, items: ['First', 'Second'] },
      { type: 'text', text: 'After the lists.' },
    ]);
    expect(body.keyTakeaways).toEqual([]);
  });

  it('a bullet list before "Key Takeaways:" stays in the body; the takeaways are exactly the next list', () => {
    const body = layout(
      `${INTRO}<ul><li>Body bullet one</li><li>Body bullet two</li></ul><p>Key Takeaways:</p>` +
        '<ul><li>Takeaway one.</li><li>Takeaway two.</li><li>Takeaway three.</li></ul>' +
        '<p>A paragraph after the takeaways.</p>',
    );
    expect(body.keyTakeaways).toEqual(['Takeaway one.', 'Takeaway two.', 'Takeaway three.']);
    expect(body.paragraphs).toEqual([
      {
        type: 'text',
        text: 'Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked in Kursk Oblast.',
      },
      { type: 'list', ordered: false, items: ['Body bullet one', 'Body bullet two'] },
      { type: 'text', text: 'A paragraph after the takeaways.' },
    ]);
  });

  it('a sub-list under a takeaway belongs to that takeaway (the count stays the count of takeaways)', () => {
    const body = layout(
      `${INTRO}<p>Key Takeaways:</p><ul><li>One.</li><li>Two:<ul><li>detail a;</li><li>detail b.</li></ul></li><li>Three.</li></ul>`,
    );
    expect(body.keyTakeaways).toEqual(['One.', 'Two: detail a; detail b.', 'Three.']);
  });

  it('reads the header: product, byline, date line, and the "Click here" lines as links', () => {
    const body = layout(
      '<h1>Iran Update</h1><p>Jordan Hale, Leila Navid, and Dana Whitfield</p><p>May 14, 2025, 5:50 pm ET</p>' +
        '<p><a href="https://example.com/map">Click here</a>\u00a0to view the interactive map.</p><hr>' +
        '<p>Iranian officials are signaling continued interest in nuclear talks with the United States today.</p>',
    );
    expect(body.product).toBe('Iran Update');
    expect(body.authors).toEqual(['Jordan Hale', 'Leila Navid', 'Dana Whitfield']);
    expect(body.date).toEqual({
      wall: { year: 2025, month: 5, day: 14, hour: 17, minute: 50, second: 0 },
      hasTime: true,
    });
    expect(body.links).toEqual([
      {
        kind: 'interactive-map',
        text: 'Click here to view the interactive map.',
        url: 'https://example.com/map',
      },
    ]);
    expect(body.paragraphs).toHaveLength(1);
  });
});

describe('parseAuthors', () => {
  it.each([
    [
      'Christina Harward, Angelica Evans, Grace Mappes, Olivia Gibson, and Frederick W. Kagan with William Runkel',
      [
        'Christina Harward',
        'Angelica Evans',
        'Grace Mappes',
        'Olivia Gibson',
        'Frederick W. Kagan',
        'William Runkel',
      ],
    ],
    [
      'Riley Bailey, Christina Harward, Angelica Evans, Grace Mappes, George Barros, and Frederick W. Kagan',
      [
        'Riley Bailey',
        'Christina Harward',
        'Angelica Evans',
        'Grace Mappes',
        'George Barros',
        'Frederick W. Kagan',
      ],
    ],
    ['Jordan Hale and Leila Navid', ['Jordan Hale', 'Leila Navid']],
    ['By Karolina Hird & Grace Mappes', ['Karolina Hird', 'Grace Mappes']],
    [
      'Kateryna Stepanenko, Nicole Wolkov, and George Barros.',
      ['Kateryna Stepanenko', 'Nicole Wolkov', 'George Barros'],
    ],
    ['Ibrahim al-Rashid and Élodie Martin', ['Ibrahim al-Rashid', 'Élodie Martin']],
    ['Ludwig van Beethoven', ['Ludwig van Beethoven']],
  ])('%s', (byline, names) => {
    expect(parseAuthors(byline)).toEqual(names);
  });

  it.each([
    'Information Cutoff: 2:00 pm ET',
    'Click here to view our Russia-Ukraine interactive maps.',
    'The Kremlin and US officials rejected rumors about Russian President Vladimir Putin’s willingness.',
    'March 2, 2025, 7:45 pm ET',
    'Madonna',
    '',
  ])('not a byline: %s', (line) => {
    expect(parseAuthors(line)).toBeNull();
  });
});

describe('textToBlocks (the plain-text fallback)', () => {
  it('blank lines end paragraphs; hard-wrapped lines join; bullets and numbers make lists', () => {
    const blocks = textToBlocks(
      'Key Takeaways:\n- One,\n  continued.\n- Two.\n\n1. First\n2) Second\n\nA paragraph\nwrapped here.\n\n---\n\nLast <https://example.com/x>\n',
    );
    expect(blocks.map((b) => [b.text, b.list, b.separator])).toEqual([
      ['Key Takeaways:', null, false],
      ['One, continued.', { id: 1, ordered: false, depth: 0 }, false],
      ['Two.', { id: 1, ordered: false, depth: 0 }, false],
      ['First', { id: 2, ordered: true, depth: 0 }, false],
      ['Second', { id: 2, ordered: true, depth: 0 }, false],
      ['A paragraph wrapped here.', null, false],
      ['', null, true],
      ['Last <https://example.com/x>', null, false],
    ]);
    expect(blocks[7]?.links).toEqual([
      { text: 'Last <https://example.com/x>', href: 'https://example.com/x' },
    ]);
  });
});

describe('which part is parsed', () => {
  const HEAD = [
    'From: ISW Publications <publications@understandingwar.org>',
    'To: isw-inbox@example.com',
    'Subject: Russian Offensive Campaign Assessment, July 4, 2025',
    'Date: Fri, 4 Jul 2025 22:10:00 -0400',
    'Message-ID: <text-only@example.com>',
    'MIME-Version: 1.0',
  ].join('\r\n');

  it('a text-only email is read from its text part', async () => {
    const text = [
      'Russian Offensive Campaign Assessment',
      '',
      'Jane Doe, John Roe, and Frederick W. Kagan',
      '',
      'July 4, 2025, 8:15 pm ET',
      '',
      'Click here to view our interactive maps.',
      '<https://r20.rs6.net/tn.jsp?f=map>',
      '',
      'Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces',
      'counterattacked in Kursk Oblast.',
      '',
      'Russian forces attacked in two directions:',
      '- Kupyansk',
      '- Pokrovsk',
      '',
      'Key Takeaways:',
      '- Russian forces advanced near Toretsk.',
      '- Ukrainian forces counterattacked in Kursk Oblast.',
      '',
      'Click here to read the full report.',
      '<https://r20.rs6.net/tn.jsp?f=full>',
      '',
    ].join('\r\n');
    const r = await parseEmail(`${HEAD}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`);
    expect(r.product).toBe('Russian Offensive Campaign Assessment');
    expect(r.authors).toEqual(['Jane Doe', 'John Roe', 'Frederick W. Kagan']);
    expect(r.publishedAt).toBe('2025-07-04T20:15:00-04:00');
    expect(r.paragraphs).toEqual([
      {
        type: 'text',
        text: 'Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked in Kursk Oblast.',
      },
      { type: 'text', text: 'Russian forces attacked in two directions:' },
      { type: 'list', ordered: false, items: ['Kupyansk', 'Pokrovsk'] },
    ]);
    expect(r.keyTakeaways).toEqual([
      'Russian forces advanced near Toretsk.',
      'Ukrainian forces counterattacked in Kursk Oblast.',
    ]);
    expect(r.links).toEqual([
      {
        kind: 'interactive-map',
        text: 'Click here to view our interactive maps.',
        url: 'https://r20.rs6.net/tn.jsp?f=map',
      },
      {
        kind: 'full-report',
        text: 'Click here to read the full report.',
        url: 'https://r20.rs6.net/tn.jsp?f=full',
      },
    ]);
  });

  it('with both parts, the HTML part is the one read', async () => {
    const raw = [
      HEAD,
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'TEXT PART: Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked.',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>HTML PART: Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked.</p>',
      '--alt--',
      '',
    ].join('\r\n');
    const r = await parseEmail(raw);
    expect(r.paragraphs).toEqual([
      {
        type: 'text',
        text: 'HTML PART: Russian forces advanced near Toretsk and Pokrovsk while Ukrainian forces counterattacked.',
      },
    ]);
  });

  it('a non-ISW sender gives a generic report: subject as title, body paragraphs, no takeaways', async () => {
    const raw = [
      'From: The Eastern Europe Brief <editor@eebrief.example.org>',
      'To: isw-inbox@example.com',
      'Subject: Fwd: Moscow grows uneasy',
      'Date: Fri, 2 May 2025 07:05:12 -0400',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<h1>The Eastern Europe Brief</h1><hr><p>Concern is growing in Moscow that Russia could lose its edge in talks with the United States.</p>' +
        '<p>Key Takeaways:</p><ul><li>One</li><li>Two</li></ul>',
    ].join('\r\n');
    const r = await parseEmail(raw);
    expect(r.source).toBe('generic');
    expect(r.title).toBe('Moscow grows uneasy');
    expect(r.product).toBe('The Eastern Europe Brief');
    expect(r.keyTakeaways).toEqual([]);
    // Its own "Key Takeaways" list is body text, still a list.
    expect(r.paragraphs.slice(1)).toEqual([
      { type: 'text', text: 'Key Takeaways:' },
      { type: 'list', ordered: false, items: ['One', 'Two'] },
    ]);
  });
});
