// ISW's own report URLs (iswReportUrl) and product names, used as the full-report fallback and in titles.
import { describe, expect, it } from 'vitest';
import { easternDate, findIswProduct, iswReportUrl } from '../../src/publish/index.js';

describe('iswReportUrl', () => {
  it('builds the current site layout for the Russian Offensive Campaign Assessment', () => {
    expect(iswReportUrl('Russian Offensive Campaign Assessment', '2025-03-02T19:45:00-05:00')).toBe(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/',
    );
  });

  it('files the Iran Update under middle-east', () => {
    expect(iswReportUrl('Iran Update', '2025-05-14T17:50:00-04:00')).toBe(
      'https://understandingwar.org/research/middle-east/iran-update-may-14-2025/',
    );
  });

  it('uses the Eastern date, not the UTC one', () => {
    // 9:57 pm ET on January 26 is already January 27 in UTC.
    expect(iswReportUrl('Russian Offensive Campaign Assessment', '2024-01-27T02:57:33Z')).toBe(
      'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-january-26-2024/',
    );
  });

  it('ignores case and spacing of the product name', () => {
    expect(iswReportUrl('  china-taiwan   weekly UPDATE ', '2025-10-20T12:00:00-04:00')).toBe(
      'https://understandingwar.org/research/china-taiwan/china-taiwan-weekly-update-october-20-2025/',
    );
  });

  it('has no URL for unknown products, products without a predictable address, or bad dates', () => {
    expect(iswReportUrl(null, '2025-03-02T19:45:00-05:00')).toBeNull();
    expect(iswReportUrl('The Eastern Europe Brief', '2025-05-02T07:05:12-04:00')).toBeNull();
    expect(iswReportUrl('Africa File', '2025-05-02T07:05:12-04:00')).toBeNull();
    expect(iswReportUrl('Iran Update', 'yesterday')).toBeNull();
  });
});

describe('ISW products', () => {
  it('gives the glossary Korean names', () => {
    expect(findIswProduct('Russian Offensive Campaign Assessment')?.nameKo).toBe('러시아의 공세 캠페인 평가');
    expect(findIswProduct('Iran Update')?.nameKo).toBe('이란 업데이트');
    expect(findIswProduct('Something Else')).toBeNull();
  });

  it('dates in US Eastern time across the DST change', () => {
    expect(easternDate('2025-03-09T06:30:00Z')).toEqual({ year: 2025, month: 3, monthName: 'March', day: 9 });
    expect(easternDate('2025-03-09T04:30:00Z')).toEqual({ year: 2025, month: 3, monthName: 'March', day: 8 });
  });
});
