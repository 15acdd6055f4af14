/** ISW dates are US Eastern wall-clock times ("March 2, 2025, 7:45 pm ET"). */
export const ISW_TIME_ZONE = 'America/New_York';

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const MONTH_ALT = MONTHS.map((m) => `${m.slice(0, 3)}(?:${m.slice(3)}|\\.)?`).join('|');

/** "March 2, 2025, 7:45 pm ET", "March 2, 2025", "Mar. 2, 2025 7:45 PM EST" — alone on a line. */
export const DATE_LINE = new RegExp(
  `^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\\s+)?(${MONTH_ALT})\\s+(\\d{1,2}),?\\s+(\\d{4})(?:,?\\s*(?:at\\s+)?(\\d{1,2})(?::(\\d{2}))?\\s*([ap])\\.?m\\.?(?:\\s*(?:ET|EST|EDT|Eastern(?: Time)?))?)?\\.?$`,
  'i',
);

export interface WallTime {
  readonly year: number;
  readonly month: number; // 1–12
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Parse a date line; null when the text is not one. `hasTime` is false for a bare date. */
export function parseDateLine(text: string): { wall: WallTime; hasTime: boolean } | null {
  const m = DATE_LINE.exec(text.trim());
  if (m === null) return null;
  const [, monthName = '', day = '', year = '', hour, minute, ampm] = m;
  const month =
    MONTHS.findIndex((name) => name.startsWith(monthName.toLowerCase().replace('.', '').slice(0, 3))) + 1;
  const d = Number(day);
  if (month < 1 || d < 1 || d > 31) return null;
  let h = 0;
  if (hour !== undefined && ampm !== undefined) {
    h = Number(hour) % 12;
    if (ampm.toLowerCase() === 'p') h += 12;
  }
  return {
    wall: {
      year: Number(year),
      month,
      day: d,
      hour: h,
      minute: minute === undefined ? 0 : Number(minute),
      second: 0,
    },
    hasTime: hour !== undefined,
  };
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset in minutes at an instant, as Intl reports it ("GMT-05:00" → -300). */
export function offsetMinutes(instant: number, timeZone: string): number {
  let fmt = offsetFormatters.get(timeZone);
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, fmt);
  }
  const name = fmt.formatToParts(instant).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (m === null) return 0;
  const sign = m[1] === '-' ? -1 : 1;
  return sign * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/**
 * A wall-clock time in a zone as an ISO 8601 string with that zone's offset then, e.g.
 * 2025-03-02T19:45:00-05:00. The offset comes from Intl (the tz database), tried at the two
 * candidate instants so DST changes resolve like a clock on the wall would.
 */
export function zonedIso(wall: WallTime, timeZone: string): string {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  let offset = offsetMinutes(asUtc, timeZone);
  const second = offsetMinutes(asUtc - offset * 60_000, timeZone);
  if (second !== offset) offset = second;
  return formatIso(asUtc - offset * 60_000, offset);
}

/** An instant as ISO 8601 in a zone: 2025-03-02T22:14:09-05:00. */
export function isoInZone(instant: Date, timeZone: string): string {
  return formatIso(instant.getTime(), offsetMinutes(instant.getTime(), timeZone));
}

function formatIso(instant: number, offset: number): string {
  const local = new Date(instant + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
