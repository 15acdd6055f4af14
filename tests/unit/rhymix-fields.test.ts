// Covers what is sent to procBoardInsertDocument: machine tags, every field on create and edit, the source link, and the checks that keep unsafe or oversized posts unsent.
import { describe, expect, it } from 'vitest';
import type { Post } from '../../src/publish/post.js';
import {
  assertSendable,
  documentContent,
  documentFields,
  documentTags,
  machineTagFor,
  type DocumentSettings,
  type Fields,
} from '../../src/publish/rhymix/document-fields.js';
import { isRhymixError } from '../../src/publish/rhymix/rhymix-error.js';

const SOURCE = 'https://understandingwar.org/research/russia-ukraine/assessment-march-2-2025/';
const post: Post = {
  key: 'isw-ko-m0a1b2',
  reportId: 'm0a1b2',
  title: '[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일',
  html: '<h2>[요약]</h2>\n<p>본문</p>',
  text: '본문',
  sourceUrl: SOURCE,
  tags: ['우크라이나', '러시아'],
  publishedAt: '2025-03-02T20:00:00-05:00',
};
const settings: DocumentSettings = {
  mid: 'isw',
  tags: ['ISW', '러시아'],
  allowComments: true,
  sourceExtraVar: 2,
  maxContentKb: null,
};

/** The code assertSendable throws for these fields, or null when it lets them through. */
function codeOf(fields: Fields, s: Pick<DocumentSettings, 'maxContentKb'>): string | null {
  try {
    assertSendable(fields, s);
    return null;
  } catch (err) {
    if (!isRhymixError(err)) throw err;
    return err.code;
  }
}

describe('machineTagFor', () => {
  it('keeps a plain key and turns any other key into a plain, unique tag', () => {
    expect(machineTagFor('isw-ko-m0a1b2')).toBe('isw-ko-m0a1b2');
    const odd = machineTagFor('isw-ko-F00_Bar:baz');
    expect(odd).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(odd).toMatch(/^isw-ko-f00-bar-baz-[0-9a-f]{12}$/);
    expect(machineTagFor('isw-ko-F00_Bar:baz')).toBe(odd);
    expect(machineTagFor('isw-ko-F00_Bar:baZ')).not.toBe(odd);
    expect(machineTagFor(`isw-ko-${'a'.repeat(100)}`).length).toBeLessThanOrEqual(60);
    expect(machineTagFor('한글')).toMatch(/^isw-ko-[0-9a-f]{12}$/);
  });
});

describe('documentFields', () => {
  it('sends every field on a create, comments and extra var included', () => {
    expect(documentFields({ post, settings, categorySrl: 74, documentSrl: null })).toEqual([
      ['mid', 'isw'],
      ['category_srl', '74'],
      ['title', post.title],
      ['content', `${post.html}\n<p><strong>원문</strong>: <a href="${SOURCE}">${SOURCE}</a></p>`],
      ['tags', '우크라이나,러시아,ISW,isw-ko-m0a1b2'],
      ['comment_status', 'ALLOW'],
      ['extra_vars2', SOURCE],
    ]);
  });

  it('sends the same fields plus document_srl on an edit, and DENY / empty values explicitly', () => {
    const fields = documentFields({
      post: { ...post, sourceUrl: null },
      settings: { ...settings, allowComments: false },
      categorySrl: null,
      documentSrl: 78,
    });
    expect(fields.map(([k]) => k)).toEqual([
      'mid',
      'document_srl',
      'title',
      'content',
      'tags',
      'comment_status',
      'extra_vars2',
    ]);
    expect(Object.fromEntries(fields)).toMatchObject({
      document_srl: '78',
      comment_status: 'DENY',
      extra_vars2: '',
    });
  });
});

describe('documentContent', () => {
  it('does not add the source link when the template already links it (escaped or not)', () => {
    const linked = `<p><a href="${SOURCE.replace(/=/g, '&#x3D;')}">원문</a></p>`;
    expect(documentContent({ ...post, html: linked })).toBe(linked);
  });

  it('escapes the link it adds', () => {
    const url = 'https://example.org/a?b=1&c="2"';
    expect(documentContent({ ...post, html: '<p>x</p>', sourceUrl: url })).toContain(
      'href="https://example.org/a?b=1&#38;c=&#34;2&#34;"',
    );
  });
});

describe('documentTags', () => {
  it('drops commas, blanks and duplicates, and ends with the machine tag', () => {
    expect(
      documentTags({ key: 'isw-ko-x', tags: ['a, b', ' ', 'A , B', '러시아'] }, ['러시아', 'ISW']),
    ).toEqual(['a b', '러시아', 'ISW', 'isw-ko-x']);
  });
});

describe('assertSendable', () => {
  const fieldsOf = (p: Partial<Post>, s: Partial<DocumentSettings> = {}): ReturnType<typeof documentFields> =>
    documentFields({
      post: { ...post, ...p },
      settings: { ...settings, ...s },
      categorySrl: 74,
      documentSrl: null,
    });

  it('passes a normal post', () => {
    expect(codeOf(fieldsOf({}), settings)).toBeNull();
  });

  it.each([
    ['a script', { html: '<p>x</p><script>1</script>' }],
    ['a class', { html: '<p class="a">x</p>' }],
    ['an event handler', { html: '<p onclick="x()">x</p>' }],
    ['<? in the content', { html: '<p><?php ?></p>' }],
    ['<% in the title', { title: '<% x %>' }],
    ['<script in a tag', { tags: ['<script'] }],
    ['a javascript: link', { html: '<p><a href="javascript:alert(1)">x</a></p>' }],
    ['an empty title', { title: '   ' }],
  ])('refuses %s as BOARD_UNSAFE_CONTENT', (_what, p) => {
    expect(codeOf(fieldsOf(p), settings)).toBe('BOARD_UNSAFE_CONTENT');
  });

  it('refuses a title over 250 characters and a body over the configured KB as BOARD_TOO_LARGE', () => {
    expect(codeOf(fieldsOf({ title: '가'.repeat(250) }), settings)).toBeNull();
    expect(codeOf(fieldsOf({ title: '가'.repeat(251) }), settings)).toBe('BOARD_TOO_LARGE');
    const big = fieldsOf({ html: `<p>${'가'.repeat(400)}</p>` });
    expect(codeOf(big, { maxContentKb: 1 })).toBe('BOARD_TOO_LARGE');
    expect(codeOf(big, { maxContentKb: 2 })).toBeNull();
  });
});
