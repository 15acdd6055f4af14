// Covers the summary checks (validateSummary) and reading the model's answer (parseAnswer).
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAnswer } from '../../src/summarize/answer-schema.js';
import { loadPrompts, type PromptSet } from '../../src/summarize/prompt-set.js';
import {
  validateSummary,
  type SummaryDraft,
  type ValidationContext,
} from '../../src/summarize/validate-summary.js';

let prompts: PromptSet;
let ctx: ValidationContext;

beforeAll(async () => {
  prompts = await loadPrompts();
  ctx = { expectedTakeaways: 3, categories: prompts.categories, glossary: prompts.glossary };
});

function draft(overrides: Partial<SummaryDraft> = {}): SummaryDraft {
  return {
    title_ko: '러시아의 공세 캠페인 평가, 2025년 3월 2일',
    key_takeaways_ko: [
      '크렘린은 미국과 우크라이나의 광물 협정을 방해하려 하고 있습니다.',
      '유럽 지도자들은 런던 국방 정상회의에서 우크라이나 지원 의지를 보였습니다.',
      '우크라이나군은 최근 토레츠크 근처에서 진격했습니다.',
    ],
    categories: ['정치', '국제 관계'],
    countries: [
      { iso2: 'UA', note: '광물 협정의 당사국입니다.' },
      { iso2: 'RU', note: null },
    ],
    outlook_ko: '크렘린은 앞으로도 광물 협정을 깎아내리는 선전을 계속할 것으로 보입니다.',
    ...overrides,
  };
}

describe('validateSummary', () => {
  it('accepts a clean Korean summary', () => {
    expect(validateSummary(draft(), ctx)).toEqual([]);
  });

  it('requires the same number of takeaways as the source', () => {
    const problems = validateSummary(draft({ key_takeaways_ko: draft().key_takeaways_ko.slice(0, 2) }), ctx);
    expect(problems).toEqual([
      expect.stringMatching(/^key_takeaways_ko: expected exactly 3 entries .* got 2$/),
    ]);
  });

  it('requires 3 to 7 main points when the source has no takeaways', () => {
    const generic = { ...ctx, expectedTakeaways: null };
    expect(validateSummary(draft(), generic)).toEqual([]);
    const two = validateSummary(draft({ key_takeaways_ko: draft().key_takeaways_ko.slice(0, 2) }), generic);
    expect(two).toEqual(['key_takeaways_ko: expected 3 to 7 main points, got 2']);
    const eight = Array.from({ length: 8 }, (_, i) => `${i + 1}번째로 중요한 내용을 정리한 문장입니다.`);
    expect(validateSummary(draft({ key_takeaways_ko: eight }), { ...generic })).toEqual([
      'key_takeaways_ko: expected 3 to 7 main points, got 8',
    ]);
  });

  it('flags a field without Hangul and English sentences left in', () => {
    const problems = validateSummary(
      draft({
        key_takeaways_ko: [
          'Ukrainian forces recently advanced near Toretsk.',
          '러시아군은 Russian forces recently advanced near 벨리카 노보실카에서 진격했습니다.',
          '우크라이나군은 최근 토레츠크 근처에서 진격했습니다.',
        ],
      }),
      ctx,
    );
    expect(problems).toContain(
      'key_takeaways_ko[0]: has no Korean (Hangul) text: "Ukrainian forces recently advanced near Toretsk."',
    );
    expect(problems).toContain(
      'key_takeaways_ko[0]: English left untranslated: "Ukrainian forces recently advanced near Toretsk."',
    );
    expect(problems).toContain(
      'key_takeaways_ko[1]: English left untranslated: "Russian forces recently advanced near"',
    );
  });

  it('allows abbreviations and short names in Latin letters', () => {
    const ok = draft({ outlook_ko: '유럽연합(EU)과 나토(NATO)는 ISW 평가대로 지원을 늘릴 것으로 보입니다.' });
    expect(validateSummary(ok, ctx)).toEqual([]);
  });

  it('flags markdown and code fences', () => {
    const problems = validateSummary(
      draft({
        title_ko: '### 분류: 정치',
        key_takeaways_ko: [
          '- 크렘린은 광물 협정을 방해하려 하고 있습니다.',
          '**유럽 지도자들**은 우크라이나 지원 의지를 보였습니다.',
          '1. 우크라이나군은 최근 토레츠크 근처에서 진격했습니다.',
        ],
        outlook_ko: '```html\n앞으로도 선전은 계속될 것으로 보입니다.',
      }),
      { ...ctx, expectedTakeaways: 3 },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'title_ko: contains a markdown heading (#); write plain sentences',
        'key_takeaways_ko[0]: contains a leading bullet ("- "); write plain sentences',
        'key_takeaways_ko[1]: contains markdown emphasis (** or __); write plain sentences',
        'key_takeaways_ko[2]: starts with a number; write the sentence without numbering',
        'outlook_ko: contains a code fence (```); write plain sentences',
      ]),
    );
  });

  it('flags glossary variants to avoid', () => {
    const problems = validateSummary(
      draft({
        outlook_ko: '터키 이스탄불 협상과 키예프의 대응, 사병 회사의 동원이 주목됩니다.',
      }),
      ctx,
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'outlook_ko: write "튀르키예" instead of "터키" (glossary)',
        'outlook_ko: write "키이우" instead of "키예프" (glossary)',
        'outlook_ko: write "민간군사기업(PMC)" instead of "사병 회사" (glossary)',
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('checks lengths', () => {
    const problems = validateSummary(draft({ outlook_ko: '계속됩니다.', title_ko: '가'.repeat(151) }), ctx);
    expect(problems).toEqual([
      'title_ko: 151 characters; expected 5 to 150',
      'outlook_ko: 6 characters; expected 20 to 1200',
    ]);
  });

  it('checks categories against the list and their count', () => {
    expect(validateSummary(draft({ categories: [] }), ctx)).toEqual([
      'categories: expected 1 to 3 categories, got 0',
    ]);
    const problems = validateSummary(draft({ categories: ['정치', '스포츠', '정치', '전황'] }), ctx);
    expect(problems[0]).toBe('categories: expected 1 to 3 categories, got 4');
    expect(problems[1]).toMatch(/^categories\[1\]: "스포츠" is not in the category list \(전황, 정치, /);
    expect(problems[2]).toBe('categories[2]: "정치" is listed twice');
  });

  it('checks iso2 codes', () => {
    const problems = validateSummary(
      draft({
        countries: [
          { iso2: 'UKR', note: null },
          { iso2: 'XX', note: null },
          { iso2: 'UA', note: null },
          { iso2: 'UA', note: 'Ukraine is the main theatre' },
        ],
      }),
      ctx,
    );
    expect(problems).toEqual([
      'countries[0].iso2: "UKR" is not an ISO 3166-1 alpha-2 code (e.g. UA, RU, US)',
      'countries[1].iso2: "XX" is not an ISO 3166-1 alpha-2 code (e.g. UA, RU, US)',
      'countries[3].iso2: UA is listed twice',
      'countries[3].note: has no Korean (Hangul) text: "Ukraine is the main theatre"',
      'countries[3].note: English left untranslated: "Ukraine is the main theatre"',
    ]);
  });

  it('flags empty fields and repeated takeaways', () => {
    const same = '크렘린은 미국과 우크라이나의 광물 협정을 방해하려 하고 있습니다.';
    const problems = validateSummary(draft({ key_takeaways_ko: [same, same, ''] }), ctx);
    expect(problems).toEqual([
      'key_takeaways_ko[1]: repeats key_takeaways_ko[0]',
      'key_takeaways_ko[2]: is empty',
    ]);
  });
});

describe('parseAnswer', () => {
  const good = JSON.stringify({ ...draft(), countries: [{ iso2: ' ua ', note: '' }] });

  it('reads a JSON answer and normalises iso2 and empty notes', () => {
    const parsed = parseAnswer(good);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.answer.countries).toEqual([{ iso2: 'UA', note: null }]);
    expect(parsed.unwrappedFence).toBe(false);
  });

  it('unwraps a single ```json fence around the whole answer', () => {
    const parsed = parseAnswer(`\`\`\`json\n${good}\n\`\`\``);
    expect(parsed).toMatchObject({ ok: true, unwrappedFence: true });
  });

  it('reports text that is not JSON, quoting its start', () => {
    const parsed = parseAnswer('Sure! Here is the summary: {"title_ko"');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(1);
    expect(parsed.problems[0]).toMatch(
      /^the answer is not JSON \(.+\); it begins "Sure! Here is the summary/,
    );
  });

  it('reports an empty answer and a wrong shape with field paths', () => {
    expect(parseAnswer(null)).toEqual({
      ok: false,
      problems: ['the answer is empty: expected one JSON object'],
    });
    const parsed = parseAnswer(JSON.stringify({ title_ko: '제목', key_takeaways_ko: '하나' }));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^key_takeaways_ko: .*array/),
        expect.stringMatching(/^categories: /),
        expect.stringMatching(/^outlook_ko: /),
      ]),
    );
  });
});
