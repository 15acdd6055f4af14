// i18n-iso-countries is CommonJS assigning module.exports at run time, so Node cannot see named
// exports: import the default (its Node entry registers every locale, 'ko' included).
import isoCountries from 'i18n-iso-countries';
import type { Glossary } from './glossary.js';

/** True for an upper-case ISO 3166-1 alpha-2 code that exists ("UA"; not "ua", "UKR", "XK"). */
export function isValidIso2(code: string): boolean {
  // isValid() also accepts alpha-3 and numeric codes, which the summary contract does not.
  return /^[A-Z]{2}$/.test(code) && isoCountries.isValid(code);
}

/**
 * The Korean name of a country: the glossary's spelling where it has one (TR → 튀르키예, where the
 * library still says 터키), else i18n-iso-countries' 'ko' name. Null for an unknown code.
 */
export function countryNameKo(iso2: string, glossary: Glossary): string | null {
  const code = iso2.trim().toUpperCase();
  if (!isValidIso2(code)) return null;
  const override = glossary.countries.find((c) => c.iso2 === code);
  if (override !== undefined) return override.ko;
  return isoCountries.getName(code, 'ko', { select: 'official' }) ?? null;
}
