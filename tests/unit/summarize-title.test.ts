// Covers the Korean date and the code-built post title (product name from the glossary + New York date).
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTitleKo, koreanDate } from '../../src/summarize/korean-title.js';
import { loadPrompts, type PromptSet } from '../../src/summarize/prompt-set.js';

let prompts: PromptSet;
beforeAll(async () => {
  prompts = await loadPrompts();
});

describe('koreanDate', () => {
  it('formats the date as the New York calendar shows it', () => {
    expect(koreanDate('2025-03-02T19:45:00-05:00')).toBe('2025년 3월 2일');
    // 02:00 UTC on 3 March is still the evening of 2 March in New York.
    expect(koreanDate('2025-03-03T02:00:00Z')).toBe('2025년 3월 2일');
    // Summer time (EDT, UTC−4): 03:59 UTC is 23:59 the day before.
    expect(koreanDate('2025-05-15T03:59:00Z')).toBe('2025년 5월 14일');
    expect(koreanDate('2025-05-15T04:00:00Z')).toBe('2025년 5월 15일');
  });

  it('uses another time zone when asked', () => {
    expect(koreanDate('2025-03-02T19:45:00-05:00', 'Asia/Seoul')).toBe('2025년 3월 3일');
  });

  it('writes months and days without leading zeros', () => {
    expect(koreanDate('2024-01-05T12:00:00-05:00')).toBe('2024년 1월 5일');
    expect(koreanDate('2024-12-31T12:00:00-05:00')).toBe('2024년 12월 31일');
  });

  it('throws on a string that is not a date', () => {
    expect(() => koreanDate('yesterday')).toThrow(RangeError);
  });
});

describe('buildTitleKo', () => {
  it('builds "<Korean product>, <Korean date>" for a known product', () => {
    expect(
      buildTitleKo(
        { product: 'Russian Offensive Campaign Assessment', publishedAt: '2025-03-02T19:45:00-05:00' },
        prompts.glossary,
      ),
    ).toBe('러시아의 공세 캠페인 평가, 2025년 3월 2일');
    expect(
      buildTitleKo({ product: 'iran update', publishedAt: '2025-05-14T17:50:00-04:00' }, prompts.glossary),
    ).toBe('이란 업데이트, 2025년 5월 14일');
  });

  it('returns null for an unknown product or none, so the model title is used', () => {
    expect(
      buildTitleKo(
        { product: 'The Eastern Europe Brief', publishedAt: '2025-05-02T07:05:12-04:00' },
        prompts.glossary,
      ),
    ).toBeNull();
    expect(
      buildTitleKo({ product: null, publishedAt: '2025-05-02T07:05:12-04:00' }, prompts.glossary),
    ).toBeNull();
  });
});
