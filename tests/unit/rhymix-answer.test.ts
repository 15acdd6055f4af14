// Covers reading Rhymix/XE JSON answers: error codes, errorDetail, documents, categories and HTML-escaped titles.
import { describe, expect, it } from 'vitest';
import {
  categoriesOf,
  decodeHtmlEntities,
  documentOfView,
  documentsOfList,
  parseAnswer,
  type RhymixAnswer,
} from '../../src/publish/rhymix/rhymix-answer.js';

function answer(body: Record<string, unknown>): RhymixAnswer {
  const parsed = parseAnswer(JSON.stringify(body));
  if (parsed === null) throw new Error('not an answer');
  return parsed;
}

describe('parseAnswer', () => {
  it('reads error, message and errorDetail; success is error 0 only', () => {
    expect(parseAnswer('{"error":0,"message":"success"}')).toMatchObject({ error: 0, errorDetail: null });
    expect(
      parseAnswer('{"errorDetail":"ERR_CSRF_CHECK_FAILED","error":-1,"message":"잘못된 요청입니다."}'),
    ).toMatchObject({ error: -1, errorDetail: 'ERR_CSRF_CHECK_FAILED', message: '잘못된 요청입니다.' });
    expect(parseAnswer('{"error":"-2","message":"권한이 없습니다."}')?.error).toBe(-2);
  });

  it('tolerates a BOM and whitespace before the JSON', () => {
    expect(parseAnswer('\uFEFF  {"error":0,"message":"success"}\n')?.error).toBe(0);
  });

  it('returns null for HTML, arrays, and JSON without a numeric error', () => {
    expect(parseAnswer('<!DOCTYPE html><html></html>')).toBeNull();
    expect(parseAnswer('[1,2]')).toBeNull();
    expect(parseAnswer('{"message":"success"}')).toBeNull();
    expect(parseAnswer('{"error":"none"}')).toBeNull();
    expect(parseAnswer('')).toBeNull();
  });
});

describe('documents', () => {
  const raw = {
    document_srl: '78',
    category_srl: 74,
    member_srl: 4,
    title: 'A &amp; B &quot;인용&quot; &#039;x&#039;',
    tags: ['우크라이나', 'isw-ko-m1'],
    content: '<p>본문</p>',
  };

  it('reads a view answer, decoding the title, and only for the asked document', () => {
    const view = answer({ error: 0, message: 'success', oDocument: raw });
    expect(documentOfView(view, 78)).toEqual({
      documentSrl: 78,
      title: `A & B "인용" 'x'`,
      tags: ['우크라이나', 'isw-ko-m1'],
      categorySrl: 74,
      memberSrl: 4,
      content: '<p>본문</p>',
    });
    expect(documentOfView(view, 79)).toBeNull();
  });

  it('treats a refusal or an empty XE document as "not there"', () => {
    expect(documentOfView(answer({ error: -2, message: '대상을 찾을 수 없습니다.' }), 78)).toBeNull();
    expect(
      documentOfView(answer({ error: 0, message: 'success', oDocument: { document_srl: null } }), 78),
    ).toBeNull();
  });

  it('reads a list as an array or a PHP object, with tags as an array or a comma string', () => {
    const asArray = answer({
      error: 0,
      message: 'success',
      document_list: [raw, { document_srl: 80, tags: 'a, b' }],
    });
    expect(documentsOfList(asArray).map((d) => [d.documentSrl, d.tags])).toEqual([
      [78, ['우크라이나', 'isw-ko-m1']],
      [80, ['a', 'b']],
    ]);
    const asObject = answer({ error: 0, message: 'success', document_list: { 1: raw } });
    expect(documentsOfList(asObject).map((d) => d.documentSrl)).toEqual([78]);
    expect(documentsOfList(answer({ error: 0, message: 'success' }))).toEqual([]);
  });
});

describe('categoriesOf', () => {
  it('reads category_list keyed by srl and decodes titles', () => {
    const a = answer({
      error: 0,
      message: 'success',
      category_list: {
        74: { category_srl: 74, title: '우크라이나' },
        75: { category_srl: '75', title: '미국 &amp; 동맹' },
        76: { title: 'no srl' },
      },
    });
    expect(categoriesOf(a)).toEqual([
      { categorySrl: 74, title: '우크라이나' },
      { categorySrl: 75, title: '미국 & 동맹' },
    ]);
  });
});

describe('decodeHtmlEntities', () => {
  it('undoes htmlspecialchars and numeric references, leaving unknown entities alone', () => {
    expect(decodeHtmlEntities('&lt;b&gt; &amp;amp; &#x27;&#39; &#44608; &foo;')).toBe(
      "<b> &amp; '' 김 &foo;",
    );
  });
});
