import type { Report } from '../parse/index.js';
import { findProduct, type Glossary } from './glossary.js';

/** ISW dates its reports in US Eastern time ("March 2, 2025, 7:45 pm ET"). */
export const ISW_TIME_ZONE = 'America/New_York';

// Building an Intl.DateTimeFormat costs far more than using one (~0.3 ms a report): one per zone.
const dayFormatters = new Map<string, Intl.DateTimeFormat>();
function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = dayFormatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' });
    dayFormatters.set(timeZone, f);
  }
  return f;
}

/**
 * A date in Korean ("2025년 3월 2일"), as the calendar shows it in `timeZone`. Built from Intl's
 * numeric parts rather than the 'ko' locale's long format, whose spacing differs between ICU builds.
 * Throws a RangeError for a string that is not a date (the parser never produces one).
 */
export function koreanDate(iso: string, timeZone: string = ISW_TIME_ZONE): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new RangeError(`"${iso}" is not a date`);
  const parts = dayFormatter(timeZone).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}년 ${Number(part('month'))}월 ${Number(part('day'))}일`;
}

/**
 * The Korean title of a report whose product the glossary knows: "러시아의 공세 캠페인 평가, 2025년 3월 2일"
 * (product name, then the publication date in New York). Null for unknown products: then the model's
 * title is used. Built by code so every post of a series is titled the same way.
 */
export function buildTitleKo(
  report: Pick<Report, 'product' | 'publishedAt'>,
  glossary: Glossary,
): string | null {
  const product = findProduct(glossary, report.product);
  if (product === undefined) return null;
  return `${product.ko}, ${koreanDate(report.publishedAt)}`;
}
