/**
 * ISW's products: their Korean names (from the project glossary, GLOSSARY.md "ISW products") and
 * where ISW's website files each one. Both are needed at publish time: the Korean name makes the
 * post title the same every day whatever the model wrote, and the section builds the fallback URL
 * of the full report when the email's tracking link cannot be followed.
 */
export interface IswProduct {
  /** The product as ISW names it in the email ("Russian Offensive Campaign Assessment"). */
  readonly name: string;
  /** The glossary's Korean name, used verbatim in the post title. */
  readonly nameKo: string;
  /**
   * The `research/<section>/` folder of understandingwar.org that holds it; null when ISW's site
   * does not publish it under a predictable address (Critical Threats products live on
   * criticalthreats.org with their own scheme).
   */
  readonly section: string | null;
}

export const ISW_PRODUCTS: readonly IswProduct[] = [
  {
    name: 'Russian Offensive Campaign Assessment',
    nameKo: '러시아의 공세 캠페인 평가',
    section: 'russia-ukraine',
  },
  { name: 'Iran Update', nameKo: '이란 업데이트', section: 'middle-east' },
  { name: 'China-Taiwan Weekly Update', nameKo: '중국-대만 주간 업데이트', section: 'china-taiwan' },
  { name: 'Russian Occupation Update', nameKo: '러시아 점령지 업데이트', section: 'russia-ukraine' },
  {
    name: 'Russian Force Generation and Adaptations Update',
    nameKo: '러시아 전력 생성 및 적응 업데이트',
    section: 'russia-ukraine',
  },
  { name: 'Africa File', nameKo: '아프리카 파일', section: null },
  { name: 'Salafi-Jihadi Movement Weekly Update', nameKo: '살라피-지하디 운동 주간 업데이트', section: null },
];

const normalise = (s: string): string => s.replace(/\s+/g, ' ').trim().toLowerCase();

/** The product with this name (case and spacing ignored), or null. */
export function findIswProduct(product: string | null): IswProduct | null {
  if (product === null) return null;
  const wanted = normalise(product);
  return ISW_PRODUCTS.find((p) => normalise(p.name) === wanted) ?? null;
}

/** ISW dates are US Eastern wall-clock dates ("March 2, 2025, 7:45 pm ET"). */
export const ISW_TIME_ZONE = 'America/New_York';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const eastern = new Intl.DateTimeFormat('en-US', {
  timeZone: ISW_TIME_ZONE,
  year: 'numeric',
  month: 'long',
  day: 'numeric',
});

/**
 * The calendar date of an instant in US Eastern time, or null when `iso` is not a date. ISW dates
 * its reports in Eastern time, so a report sent at 9 pm ET is that day's even though it is already
 * the next day in UTC and in Seoul.
 */
export function easternDate(
  iso: string,
): { year: number; month: number; monthName: string; day: number } | null {
  const instant = Date.parse(iso);
  if (Number.isNaN(instant)) return null;
  const parts = eastern.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  const monthName = part('month');
  const month = MONTHS.indexOf(monthName) + 1;
  return { year: Number(part('year')), month, monthName, day: Number(part('day')) };
}

/**
 * The address of a report on ISW's own website, built from its product and date, or null when
 * the product is unknown or not published under a predictable address.
 *
 * This follows ISW's current site layout (since its 2025 redesign): every daily product lives at
 * `https://understandingwar.org/research/<section>/<product-slug>-<month>-<day>-<year>/`, e.g.
 * `research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/` and
 * `research/middle-east/iran-update-may-14-2025/`. If ISW changes its layout again, this function
 * and {@link ISW_PRODUCTS} are the one place to update. The URL is not fetched to check it: ISW's
 * site sits behind bot protection that often refuses automated requests.
 */
export function iswReportUrl(product: string | null, publishedAt: string): string | null {
  const known = findIswProduct(product);
  if (known === null || known.section === null) return null;
  const date = easternDate(publishedAt);
  if (date === null || date.month === 0) return null;
  const slug = known.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const dateSlug = `${date.monthName.toLowerCase()}-${date.day}-${date.year}`;
  return `https://understandingwar.org/research/${known.section}/${slug}-${dateSlug}/`;
}
