// Post rendering (renderPost): golden posts of the fixtures, headings, takeaways, escaping, no tracking links or addresses.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'cheerio';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/parse/report.js';
import {
  FULL_REPORT_LABEL,
  cleanModelText,
  dateAsWritten,
  defaultTemplatesDir,
  findUnsafeContent,
  formatKst,
  loadPostTemplates,
  POST_HEADINGS,
  PublishError,
  renderBoardIndex,
  renderBoardPage,
  renderPost,
  type Post,
  type PostTemplates,
  type PostTitleView,
  type ListItemView,
  nestList,
  type RenderPostInput,
  type ResolvedLink,
} from '../../src/publish/index.js';
import type { Summary } from '../../src/summarize/summary.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLDEN_DIR = path.join(ROOT, 'tests/golden');
const INPUTS_DIR = path.join(GOLDEN_DIR, 'inputs');
const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

const ISW_FIXTURES = ['isw-roca-2025-03-02', 'isw-roca-2024-01-26', 'isw-iran-update-2025-05-14'] as const;
const GENERIC_FIXTURE = 'other-newsletter-2025-05-02';
const SUBSCRIBER = 'isw-inbox@example.com';

interface Fixture {
  readonly name: string;
  readonly report: Report;
  readonly summary: Summary;
  readonly links: ResolvedLink[];
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(path.join(INPUTS_DIR, file), 'utf8')) as T;
}

async function fixture(name: string): Promise<Fixture> {
  return {
    name,
    report: await readJson<Report>(`${name}.report.json`),
    summary: await readJson<Summary>(`${name}.summary.json`),
    links: await readJson<ResolvedLink[]>(`${name}.links.json`),
  };
}

/** Compare with tests/golden/<file>; UPDATE_GOLDEN=1 rewrites it instead. A missing golden file fails. */
async function expectGolden(file: string, actual: string): Promise<void> {
  const target = path.join(GOLDEN_DIR, file);
  if (UPDATE_GOLDEN) {
    await writeFile(target, actual, 'utf8');
    return;
  }
  const expected = await readFile(target, 'utf8').catch((err: unknown) => {
    throw new Error(
      `golden file ${file} is missing: run UPDATE_GOLDEN=1 npx vitest run ${path.basename(import.meta.url)}`,
      {
        cause: err,
      },
    );
  });
  expect(actual, `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it after review)`).toBe(
    expected,
  );
}

function headingsOf(html: string): string[] {
  const $ = load(html, null, false);
  return $('h2, h3')
    .toArray()
    .map((el) => $(el).text());
}

/** The <li> texts of the list right after the heading `title`. */
function listAfterHeading(html: string, title: string): string[] {
  const $ = load(html, null, false);
  const heading = $('h2, h3')
    .toArray()
    .find((el) => $(el).text() === title);
  expect(heading, `heading ${title}`).toBeDefined();
  const list = $(heading).nextAll('ul, ol').first();
  return list
    .find('li')
    .toArray()
    .map((li) => $(li).text());
}

let templates: PostTemplates;
const fixtures = new Map<string, Fixture>();
const posts = new Map<string, Post>();

function render(f: Fixture, extra: Partial<RenderPostInput> = {}): Post {
  return renderPost(
    { reportId: `r-${f.name}`, report: f.report, summary: f.summary, links: f.links, ...extra },
    templates,
  );
}

beforeAll(async () => {
  templates = await loadPostTemplates(path.join(ROOT, 'templates'));
  for (const name of [...ISW_FIXTURES, GENERIC_FIXTURE]) {
    const f = await fixture(name);
    fixtures.set(name, f);
    posts.set(name, render(f, name === GENERIC_FIXTURE ? { sourceShortName: 'EEB' } : {}));
  }
});

const postOf = (name: string): Post => {
  const post = posts.get(name);
  if (post === undefined) throw new Error(`no post rendered for ${name}`);
  return post;
};
const fixtureOf = (name: string): Fixture => {
  const f = fixtures.get(name);
  if (f === undefined) throw new Error(`no fixture ${name}`);
  return f;
};

describe('golden posts', () => {
  it.each([...ISW_FIXTURES, GENERIC_FIXTURE])('%s renders as the golden page and text', async (name) => {
    const post = postOf(name);
    // The page a person opens (the file board's page around the post's HTML) and the plain text.
    await expectGolden(`${name}.html`, renderBoardPage(post, templates, 'index.html'));
    await expectGolden(`${name}.txt`, `${post.title}\n\n${post.text}`);
  });
});

describe('renderPost', () => {
  it.each(ISW_FIXTURES)('%s: the six headings, in order, each once, in the HTML and the text', (name) => {
    const post = postOf(name);
    const korean = headingsOf(post.html).filter((h) => (POST_HEADINGS as readonly string[]).includes(h));
    expect(korean).toEqual([...POST_HEADINGS]);
    const lines = post.text.split('\n');
    const at = POST_HEADINGS.map((h) => lines.indexOf(h));
    for (const [i, h] of POST_HEADINGS.entries()) {
      expect(
        lines.filter((l) => l === h),
        `text heading ${h}`,
      ).toHaveLength(1);
      if (i > 0) expect(at[i]).toBeGreaterThan(at[i - 1] ?? Infinity);
    }
    // Each heading is its own element: never "### 분류: … ### 관련된 주요국가" run together.
    const $ = load(post.html, null, false);
    for (const h of POST_HEADINGS) expect($('h2, h3').filter((_, el) => $(el).text() === h)).toHaveLength(1);
  });

  it.each(ISW_FIXTURES)('%s: every Korean and every original takeaway, in order', (name) => {
    const { summary, report } = fixtureOf(name);
    const post = postOf(name);
    expect(listAfterHeading(post.html, '주요 요점')).toEqual(summary.key_takeaways_ko);
    const $ = load(post.html, null, false);
    const original = $('p')
      .filter((_, el) => $(el).text() === 'Key Takeaways:')
      .nextAll('ul')
      .first()
      .find('li')
      .toArray()
      .map((li) => $(li).text());
    expect(original).toEqual(report.keyTakeaways);
    for (const t of summary.key_takeaways_ko) expect(post.text).toContain(t);
    for (const t of report.keyTakeaways) expect(post.text).toContain(t);
  });

  it.each([...ISW_FIXTURES, GENERIC_FIXTURE])(
    '%s: simple tags only, no markdown, no tracking link or address',
    (name) => {
      const post = postOf(name);
      expect(findUnsafeContent(post.html)).toEqual([]);
      for (const out of [post.html, post.text, post.title]) {
        expect(out).not.toContain('```');
        expect(out).not.toMatch(/^\s*#{1,6}\s/m);
        expect(out).not.toMatch(/rs6\.net|constantcontact|ccsend/i);
        expect(out).not.toContain(SUBSCRIBER);
      }
      expect(post.html).not.toMatch(/class=|<script|<\?/i);
    },
  );

  it('the [원문] part keeps paragraphs in order, the date as written and the resolved full-report link', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const post = postOf('isw-roca-2025-03-02');
    const $ = load(post.html, null, false);
    const texts = $('p')
      .toArray()
      .map((p) => $(p).text());
    const first = f.report.paragraphs[0];
    const last = f.report.paragraphs.at(-1);
    expect(first?.type === 'text' && last?.type === 'text').toBe(true);
    if (first?.type !== 'text' || last?.type !== 'text') return;
    expect(texts.indexOf(first.text)).toBeGreaterThan(texts.indexOf('March 2, 2025, 7:45 pm ET'));
    expect(texts.indexOf(last.text)).toBeGreaterThan(texts.indexOf(first.text));
    expect(texts).toContain(f.report.authors.join(', '));
    const full = $('a').filter((_, a) => $(a).text() === FULL_REPORT_LABEL);
    expect(full.attr('href')).toBe(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/',
    );
    expect(post.sourceUrl).toBe(full.attr('href'));
  });

  it('lists in the body stay lists', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const report: Report = {
      ...f.report,
      paragraphs: [
        { type: 'text', text: 'Before the list.' },
        { type: 'list', ordered: false, items: ['first bullet', 'second bullet'] },
        { type: 'list', ordered: true, items: ['step one', 'step two'] },
        { type: 'text', text: 'After the list.' },
      ],
    };
    const post = render({ ...f, report });
    expect(post.html).toContain('<ul>\n<li>first bullet</li>\n<li>second bullet</li>\n</ul>');
    expect(post.html).toContain('<ol>\n<li>step one</li>\n<li>step two</li>\n</ol>');
    expect(post.text).toContain('- first bullet\n- second bullet');
    expect(post.text).toContain('1. step one\n2. step two');
  });

  it('nested lists stay nested', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const report: Report = {
      ...f.report,
      paragraphs: [
        {
          type: 'list',
          ordered: false,
          items: ['Kharkiv', 'Kupyansk', 'Lyman', 'Donetsk', 'Toretsk'],
          levels: [0, 1, 1, 0, 1],
        },
      ],
    };
    const post = render({ ...f, report });
    expect(post.html).toContain(
      '<ul>\n<li>Kharkiv\n<ul>\n<li>Kupyansk</li>\n<li>Lyman</li>\n</ul>\n</li>\n<li>Donetsk\n<ul>\n<li>Toretsk</li>\n</ul>\n</li>\n</ul>',
    );
    expect(post.text).toContain('- Kharkiv\n  - Kupyansk\n  - Lyman\n- Donetsk\n  - Toretsk\n');
    expect(findUnsafeContent(post.html)).toEqual([]);
  });

  it('rebuilds a list tree from levels without losing an item', () => {
    const texts = (items: readonly ListItemView[]): unknown[] =>
      items.map((i) => (i.list === null ? i.text : [i.text, texts(i.list.items)]));
    const tree = (levels: number[]): unknown[] =>
      texts(
        nestList(
          levels.map((level, i) => ({ text: `i${i}`, level })),
          false,
        ).items,
      );
    expect(tree([0, 1, 2, 1, 0])).toEqual([['i0', [['i1', ['i2']], 'i3']], 'i4']);
    expect(tree([1, 0])).toEqual(['i0', 'i1']); // a first item cannot be nested under nothing
    expect(tree([0, 2, 1])).toEqual([['i0', ['i1', 'i2']]]); // a skipped level nests one deeper
  });

  it('shows markup from the email or the model as text, never as markup', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const script = '<script>alert("x")</script>';
    const img = '<img src=x onerror=alert(1)>';
    const report: Report = {
      ...f.report,
      title: `Russian Offensive Campaign Assessment ${script}`,
      authors: [img],
      paragraphs: [{ type: 'text', text: `A paragraph ${script} and ${img}` }, ...f.report.paragraphs],
      keyTakeaways: [`Takeaway ${img}`, ...f.report.keyTakeaways.slice(1)],
    };
    const summary: Summary = {
      ...f.summary,
      key_takeaways_ko: [`요점 ${script}`, `요점 ${img}`, ...f.summary.key_takeaways_ko.slice(2)],
      outlook_ko: `전망 <a href="javascript:alert(1)" class="x">링크</a>`,
    };
    const links: ResolvedLink[] = [
      {
        kind: 'related',
        text: `"><script>alert(2)</script>`,
        url: 'https://example.org/a?b="><x>',
        resolvedBy: 'redirect',
      },
      ...f.links,
    ];
    const post = render({ ...f, report, summary, links });
    expect(findUnsafeContent(post.html)).toEqual([]);
    const $ = load(post.html, null, false);
    expect($('script, img, [onerror], [class]')).toHaveLength(0);
    expect(post.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(listAfterHeading(post.html, '주요 요점').slice(0, 2)).toEqual([`요점 ${script}`, `요점 ${img}`]);
    expect($('p').filter((_, p) => $(p).text() === `A paragraph ${script} and ${img}`)).toHaveLength(1);
    expect($('a').filter((_, a) => ($(a).attr('href') ?? '').startsWith('javascript'))).toHaveLength(0);
    // Plain text keeps the characters (it is escaped by whoever displays it).
    expect(post.text).toContain(`요점 ${script}`);
  });

  it('scrubs the subscriber address and tracking URLs that slipped into the text or the links', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const tracking = 'https://r20.rs6.net/tn.jsp?f=001abc&c=def&ch=ghi';
    const report: Report = {
      ...f.report,
      preface: [`This email was sent to ${SUBSCRIBER} by publications@understandingwar.org`],
      paragraphs: [
        { type: 'text', text: `See ${tracking} or write to ${SUBSCRIBER}.` },
        ...f.report.paragraphs,
      ],
    };
    const links: ResolvedLink[] = [
      {
        kind: 'related',
        text: 'A tracking link that was not resolved',
        url: tracking,
        resolvedBy: 'redirect',
      },
      { kind: 'related', text: 'mail us', url: `mailto:${SUBSCRIBER}`, resolvedBy: 'redirect' },
      {
        kind: 'related',
        text: 'personal',
        url: `https://example.org/p?email=${SUBSCRIBER}&x=1`,
        resolvedBy: 'redirect',
      },
      ...f.links,
    ];
    const summary: Summary = { ...f.summary, outlook_ko: `문의: ${SUBSCRIBER}` };
    const post = render({ ...f, report, links, summary });
    for (const out of [post.html, post.text]) {
      expect(out).not.toContain(SUBSCRIBER);
      expect(out).not.toContain('publications@understandingwar.org');
      expect(out).not.toMatch(/rs6\.net/);
      expect(out).toContain('[email address removed]');
      expect(out).toContain('[link removed]');
    }
    expect(post.html).not.toContain('A tracking link that was not resolved');
    expect(post.html).toContain('https://example.org/p?x&#x3D;1');
  });

  it('removes chat leftovers (code fences, ### headings, bullets) from the model text', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const summary: Summary = {
      ...f.summary,
      key_takeaways_ko: ['- **첫째** 요점', '### 둘째 요점', ...f.summary.key_takeaways_ko.slice(2)],
      outlook_ko: '```html\n### 향후 전망: 크렘린은 계속 반대할 것입니다.\n```',
    };
    const post = render({ ...f, summary });
    expect(listAfterHeading(post.html, '주요 요점').slice(0, 2)).toEqual(['첫째 요점', '둘째 요점']);
    expect(post.html).toContain('<p>향후 전망: 크렘린은 계속 반대할 것입니다.</p>');
    for (const out of [post.html, post.text]) {
      expect(out).not.toContain('```');
      expect(out).not.toContain('###');
      expect(out).not.toContain('**');
    }
    expect(cleanModelText('### 분류: 정치 ### 관련된 주요국가: 미국')).toBe(
      '분류: 정치 관련된 주요국가: 미국',
    );
  });

  it('keeps every heading when a section is empty', () => {
    const f = fixtureOf('isw-iran-update-2025-05-14');
    const summary: Summary = { ...f.summary, categories: [], countries: [], outlook_ko: '' };
    const post = render({ ...f, summary, links: [] });
    expect(headingsOf(post.html).filter((h) => (POST_HEADINGS as readonly string[]).includes(h))).toEqual([
      ...POST_HEADINGS,
    ]);
    expect(post.html).toContain('<h3>분류</h3>\n<p>없음</p>');
    expect(post.html).toContain('<h3>향후 전망</h3>\n<p>없음</p>');
    expect(post.sourceUrl).toBeNull();
    expect(post.html).not.toContain('<a ');
  });
});

describe('post titles', () => {
  it('ISW: [ISW], the glossary product name and the Eastern date, whatever the model wrote', () => {
    // The 2024 fixture's summary says "러시아 공세 캠페인 평가" (a spelling the hand-made posts mixed in).
    expect(postOf('isw-roca-2024-01-26').title).toBe('[ISW] 러시아의 공세 캠페인 평가, 2024년 1월 26일');
    expect(postOf('isw-roca-2025-03-02').title).toBe('[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일');
    expect(postOf('isw-iran-update-2025-05-14').title).toBe('[ISW] 이란 업데이트, 2025년 5월 14일');
  });

  it("generic: the source's short name, else its sender name, instead of [ISW]", () => {
    expect(postOf(GENERIC_FIXTURE).title).toBe('[EEB] 미국-우크라이나 광물 협정에 불안해하는 모스크바');
    const f = fixtureOf(GENERIC_FIXTURE);
    expect(render(f).title).toBe(
      '[The Eastern Europe Brief] 미국-우크라이나 광물 협정에 불안해하는 모스크바',
    );
  });

  it('an unknown ISW product keeps the summary title', () => {
    const f = fixtureOf('isw-roca-2025-03-02');
    const post = render({
      ...f,
      report: { ...f.report, product: 'Special Report' },
      summary: { ...f.summary, title_ko: '특별 보고서' },
    });
    expect(post.title).toBe('[ISW] 특별 보고서');
  });

  it('the post carries key, tags, publishedAt and sourceUrl', () => {
    const post = postOf('isw-roca-2024-01-26');
    expect(post.key).toBe('isw-ko-r-isw-roca-2024-01-26');
    expect(post.reportId).toBe('r-isw-roca-2024-01-26');
    expect(post.publishedAt).toBe('2024-01-26T21:57:33-05:00');
    expect(post.tags).toEqual(['외교·협상', '전황', '인권·전쟁범죄', '러시아', '우크라이나', '미국']);
    expect(post.sourceUrl).toBe(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-january-26-2024/',
    );
  });
});

describe('dateAsWritten', () => {
  it('writes the date the way ISW does, with the time only when the body gave one', () => {
    expect(
      dateAsWritten({ source: 'isw', publishedAt: '2025-03-02T19:45:00-05:00', publishedAtSource: 'body' }),
    ).toBe('March 2, 2025, 7:45 pm ET');
    expect(
      dateAsWritten({ source: 'isw', publishedAt: '2024-01-26T21:57:33-05:00', publishedAtSource: 'header' }),
    ).toBe('January 26, 2024');
    // 02:30 UTC on the 3rd is still the 2nd in Washington.
    expect(
      dateAsWritten({ source: 'isw', publishedAt: '2025-03-03T02:30:00Z', publishedAtSource: 'body' }),
    ).toBe('March 2, 2025, 9:30 pm ET');
    expect(
      dateAsWritten({
        source: 'generic',
        publishedAt: '2025-05-02T07:05:12-04:00',
        publishedAtSource: 'header',
      }),
    ).toBe('May 2, 2025');
  });
});

describe('board index', () => {
  const entry = (title: string, publishedAt: string) => ({
    href: `posts/${title}.html`,
    title,
    publishedAt,
    tags: [],
  });
  const order = (html: string): string[] =>
    load(html)('li a')
      .toArray()
      .map((a) => load(a).text());

  it('newest first by instant, ties by Korean title order, undated posts last', async () => {
    const templates = await loadPostTemplates();
    const entries = [
      entry('나', '2025-03-02T10:00:00Z'),
      entry('undated', 'not a date'),
      entry('가', '2025-03-02T19:00:00+09:00'), // the same instant as 나
      entry('newest', '2025-03-03T00:00:00Z'),
      entry('also undated', ''),
    ];
    // Twice: the second rendering reuses the formatted dates of the first.
    for (let i = 0; i < 2; i += 1) {
      const html = renderBoardIndex(entries, templates);
      expect(order(html)).toEqual(['newest', '가', '나', 'also undated', 'undated']);
      expect(html).toContain('2025년 3월 3일 09:00 KST');
      expect(html).toContain('not a date');
    }
  });

  it('formatKst gives the same text for a date seen before', () => {
    expect(formatKst('2025-03-02T23:45:00-05:00')).toBe('2025년 3월 3일 13:45 KST');
    expect(formatKst('2025-03-02T23:45:00-05:00')).toBe('2025년 3월 3일 13:45 KST');
    expect(formatKst('2025-03-02')).toBe('2025년 3월 2일 09:00 KST');
    expect(formatKst('soon')).toBe('soon');
  });
});

describe('templates', () => {
  it('a template that refers to a missing field fails with TEMPLATE_INVALID, not an empty post', () => {
    // A body template written for another view: strict mode must notice the fields it lacks.
    const broken: PostTemplates = {
      ...templates,
      body: (view) => templates.title(view as unknown as PostTitleView),
    };
    const f = fixtureOf('isw-roca-2025-03-02');
    let caught: unknown;
    try {
      renderPost({ reportId: 'x', report: f.report, summary: f.summary, links: f.links }, broken);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PublishError);
    expect((caught as PublishError).code).toBe('TEMPLATE_INVALID');
  });

  it('loads the shipped templates by default, wherever the working directory is', async () => {
    expect(defaultTemplatesDir()).toBe(path.join(ROOT, 'templates') + path.sep);
    const shipped = await loadPostTemplates();
    const f = fixtureOf('isw-roca-2025-03-02');
    expect(
      renderPost({ reportId: `r-${f.name}`, report: f.report, summary: f.summary, links: f.links }, shipped),
    ).toEqual(postOf(f.name));
  });

  it('a missing templates directory fails with TEMPLATE_INVALID', async () => {
    await expect(loadPostTemplates(path.join(ROOT, 'no-such-templates'))).rejects.toMatchObject({
      name: 'PublishError',
      code: 'TEMPLATE_INVALID',
    });
  });
});
