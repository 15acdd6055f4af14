// Covers iso2 → Korean country names (i18n-iso-countries 'ko', overridden by the glossary) and iso2 checks.
import { beforeAll, describe, expect, it } from 'vitest';
import { countryNameKo, isValidIso2 } from '../../src/summarize/countries.js';
import type { Glossary } from '../../src/summarize/glossary.js';
import { loadPrompts } from '../../src/summarize/prompt-set.js';

let glossary: Glossary;
beforeAll(async () => {
  glossary = (await loadPrompts()).glossary;
});

describe('countryNameKo', () => {
  it('takes names from the library', () => {
    expect(countryNameKo('UA', glossary)).toBe('우크라이나');
    expect(countryNameKo('US', glossary)).toBe('미국');
    expect(countryNameKo('IR', glossary)).toBe('이란');
  });

  it('prefers the glossary where the library differs', () => {
    expect(countryNameKo('TR', glossary)).toBe('튀르키예');
    expect(countryNameKo('RU', glossary)).toBe('러시아');
    expect(countryNameKo('GE', glossary)).toBe('조지아');
    expect(countryNameKo('PL', glossary)).toBe('폴란드');
  });

  it('accepts lower case and spaces, and returns null for unknown codes', () => {
    expect(countryNameKo(' tr ', glossary)).toBe('튀르키예');
    expect(countryNameKo('XX', glossary)).toBeNull();
    expect(countryNameKo('UKR', glossary)).toBeNull();
  });

  it('works with an empty glossary (library names only)', () => {
    expect(countryNameKo('TR', { products: [], terms: [], countries: [] })).toBe('터키');
  });
});

describe('isValidIso2', () => {
  it('accepts only existing upper-case alpha-2 codes', () => {
    expect(isValidIso2('UA')).toBe(true);
    expect(isValidIso2('ua')).toBe(false);
    expect(isValidIso2('UKR')).toBe(false);
    expect(isValidIso2('804')).toBe(false);
    expect(isValidIso2('ZZ')).toBe(false);
  });
});
