/**
 * Wall-clock times in a time zone, for the daily digest. Pure, with the clock passed in: every
 * instant is a number of milliseconds since the epoch, every zone an IANA name. Offsets are never
 * written by hand: they are read from `Intl.DateTimeFormat` (the tz database in Node's ICU), so
 * daylight-saving changes in zones that have them (America/New_York) come out right.
 */

/** The time source; tests pass a controllable one. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** A time of day. */
export interface DailyTime {
  readonly hour: number;
  readonly minute: number;
}

/** The calendar fields of an instant in a zone. `weekday` is 0 for Sunday. */
export interface ZonedParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly weekday: number;
}

/** "08:00" → { hour: 8, minute: 0 }. */
export function parseDailyTime(text: string): DailyTime {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (m === null) throw new RangeError(`not a time of day (HH:MM): ${JSON.stringify(text)}`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/**
 * The cron pattern of a daily time, for BullMQ's job scheduler (which reads it with the same time
 * zone, so "0 8 * * *" with tz Asia/Seoul is 08:00 in Seoul whatever the server's zone).
 */
export function cronPatternOf(time: DailyTime): string {
  return `${time.minute} ${time.hour} * * *`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The calendar fields of `instant` in `timeZone`. */
export function zonedParts(instant: number, timeZone: string): ZonedParts {
  const out: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) out[p.type] = p.value;
  const num = (k: string): number => Number(out[k] ?? NaN);
  return {
    year: num('year'),
    month: num('month'),
    day: num('day'),
    hour: num('hour') % 24,
    minute: num('minute'),
    second: num('second'),
    weekday: WEEKDAYS.indexOf(out.weekday ?? ''),
  };
}

/** How far the zone's wall clock is ahead of UTC at `instant`, as Intl reports it. */
function zoneOffsetAt(instant: number, timeZone: string): number {
  const p = zonedParts(instant, timeZone);
  const wallAsUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wallAsUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant at which the wall clock of `timeZone` shows this date and time. Where the time occurs
 * twice (autumn, clocks go back) the earlier one; where it does not occur (spring, clocks go forward)
 * the same distance past the start of the gap, e.g. 02:30 → 03:30 in America/New_York on the day
 * daylight saving begins.
 */
export function instantOf(
  local: { readonly year: number; readonly month: number; readonly day: number } & DailyTime,
  timeZone: string,
): number {
  const wallAsUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const first = wallAsUtc - zoneOffsetAt(wallAsUtc, timeZone);
  const second = wallAsUtc - zoneOffsetAt(first, timeZone);
  const shows = (instant: number): boolean => {
    const p = zonedParts(instant, timeZone);
    return p.hour === local.hour && p.minute === local.minute && p.day === local.day;
  };
  const candidates = [first, second].filter(shows).sort((a, b) => a - b);
  // Neither shows the wall time: it falls in a gap; `first` used the offset from before the change.
  return candidates[0] ?? Math.max(first, second);
}

/** The calendar date `days` after the given one (calendar arithmetic only, no time zone involved). */
function addDays(
  date: { year: number; month: number; day: number },
  days: number,
): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** The first instant strictly after `now` at which `timeZone`'s wall clock shows `time`. */
export function nextDailyRun(time: DailyTime, timeZone: string, now: number): number {
  const today = zonedParts(now, timeZone);
  for (let offset = 0; offset <= 2; offset += 1) {
    const run = instantOf({ ...addDays(today, offset), ...time }, timeZone);
    if (run > now) return run;
  }
  throw new Error('unreachable: a daily time occurs within two days');
}

/** The last instant at or before `now` at which `timeZone`'s wall clock showed `time`. */
export function previousDailyRun(time: DailyTime, timeZone: string, now: number): number {
  const today = zonedParts(now, timeZone);
  for (let offset = 0; offset >= -2; offset -= 1) {
    const run = instantOf({ ...addDays(today, offset), ...time }, timeZone);
    if (run <= now) return run;
  }
  throw new Error('unreachable: a daily time occurs within two days');
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** "202503030800": the wall-clock minute of `instant` in `timeZone`, for ids. */
export function minuteStamp(instant: number, timeZone: string): string {
  const p = zonedParts(instant, timeZone);
  return `${pad(p.year, 4)}${pad(p.month)}${pad(p.day)}${pad(p.hour)}${pad(p.minute)}`;
}
