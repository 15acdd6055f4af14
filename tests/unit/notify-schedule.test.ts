// Daily-time arithmetic in time zones (pure, injectable clock): next/previous run, DST gaps and overlaps, cron pattern.
import { describe, expect, it } from 'vitest';
import {
  cronPatternOf,
  instantOf,
  minuteStamp,
  nextDailyRun,
  parseDailyTime,
  previousDailyRun,
  zonedParts,
} from '../../src/notify/schedule.js';

const at = (iso: string): number => Date.parse(iso);

describe('schedule', () => {
  it('parses HH:MM and builds the cron pattern BullMQ reads with the zone', () => {
    expect(parseDailyTime('08:00')).toEqual({ hour: 8, minute: 0 });
    expect(parseDailyTime('23:59')).toEqual({ hour: 23, minute: 59 });
    expect(() => parseDailyTime('24:00')).toThrow(RangeError);
    expect(() => parseDailyTime('8:00')).toThrow(RangeError);
    expect(cronPatternOf({ hour: 8, minute: 5 })).toBe('5 8 * * *');
  });

  it('finds 08:00 in Seoul: 23:00 UTC the day before', () => {
    const eight = { hour: 8, minute: 0 };
    expect(nextDailyRun(eight, 'Asia/Seoul', at('2025-03-02T12:00:00Z'))).toBe(at('2025-03-02T23:00:00Z'));
    // Exactly at the run time: the next one is tomorrow; the previous one is now.
    expect(nextDailyRun(eight, 'Asia/Seoul', at('2025-03-02T23:00:00Z'))).toBe(at('2025-03-03T23:00:00Z'));
    expect(previousDailyRun(eight, 'Asia/Seoul', at('2025-03-02T23:00:00Z'))).toBe(
      at('2025-03-02T23:00:00Z'),
    );
    expect(previousDailyRun(eight, 'Asia/Seoul', at('2025-03-02T22:59:59Z'))).toBe(
      at('2025-03-01T23:00:00Z'),
    );
  });

  it('follows daylight saving in New York (UTC-5 in winter, UTC-4 in summer)', () => {
    const eight = { hour: 8, minute: 0 };
    expect(nextDailyRun(eight, 'America/New_York', at('2025-03-08T20:00:00Z'))).toBe(
      at('2025-03-09T12:00:00Z'),
    );
    expect(nextDailyRun(eight, 'America/New_York', at('2025-03-07T20:00:00Z'))).toBe(
      at('2025-03-08T13:00:00Z'),
    );
    expect(nextDailyRun(eight, 'America/New_York', at('2025-11-01T20:00:00Z'))).toBe(
      at('2025-11-02T13:00:00Z'),
    );
  });

  it('maps a time in the spring gap past it, and an autumn repeat to its first occurrence', () => {
    // 02:30 does not exist in New York on 2025-03-09: 03:30 EDT (07:30 UTC).
    expect(instantOf({ year: 2025, month: 3, day: 9, hour: 2, minute: 30 }, 'America/New_York')).toBe(
      at('2025-03-09T07:30:00Z'),
    );
    // 01:30 happens twice on 2025-11-02: the first, EDT (05:30 UTC).
    expect(instantOf({ year: 2025, month: 11, day: 2, hour: 1, minute: 30 }, 'America/New_York')).toBe(
      at('2025-11-02T05:30:00Z'),
    );
  });

  it('reads wall-clock parts and minute stamps in a zone', () => {
    expect(zonedParts(at('2025-03-02T23:00:00Z'), 'Asia/Seoul')).toMatchObject({
      year: 2025,
      month: 3,
      day: 3,
      hour: 8,
      weekday: 1,
    });
    expect(minuteStamp(at('2025-03-02T23:00:00Z'), 'Asia/Seoul')).toBe('202503030800');
  });
});
