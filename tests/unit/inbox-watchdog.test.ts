// Covers the watchdog's verdict: quiet time measured from the last genuine report or from the start of watching, tripping at the threshold, messages for log/readyz/doctor.
import { describe, expect, it } from 'vitest';
import { evaluateWatchdog } from '../../src/inbox/watchdog.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2025-03-05T12:00:00Z');

describe('evaluateWatchdog', () => {
  it('is quiet while reports keep arriving', () => {
    const s = evaluateWatchdog({
      lastGenuineAt: NOW - 5 * HOUR,
      watchingSince: NOW - 100 * HOUR,
      now: NOW,
      thresholdMs: 36 * HOUR,
    });
    expect(s).toMatchObject({
      tripped: false,
      quietForMs: 5 * HOUR,
      lastGenuineAt: '2025-03-05T07:00:00.000Z',
    });
    expect(s.message).toBe('last genuine ISW report 5.0 h ago');
  });

  it('trips after the threshold and says what to check', () => {
    const s = evaluateWatchdog({
      lastGenuineAt: NOW - 40 * HOUR,
      watchingSince: NOW - 100 * HOUR,
      now: NOW,
      thresholdMs: 36 * HOUR,
    });
    expect(s.tripped).toBe(true);
    expect(s.message).toContain('no genuine ISW report for 40 h');
    expect(s.message).toContain('held list');
  });

  it('counts from the start of watching when no report has come yet', () => {
    const fresh = evaluateWatchdog({
      lastGenuineAt: null,
      watchingSince: NOW - HOUR,
      now: NOW,
      thresholdMs: 36 * HOUR,
    });
    expect(fresh).toMatchObject({
      tripped: false,
      lastGenuineAt: null,
      message: 'waiting for the first genuine ISW report',
    });
    const stale = evaluateWatchdog({
      lastGenuineAt: null,
      watchingSince: NOW - 37 * HOUR,
      now: NOW,
      thresholdMs: 36 * HOUR,
    });
    expect(stale.tripped).toBe(true);
    expect(stale.message).toContain('since watching began');
  });
});
