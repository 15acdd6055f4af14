// Covers isw-ko doctor's lines: a part that throws shows as that part's FAIL with the error's own message and hint (settings that do not go together included); only an unexpected error is called a bug.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv, type Env } from '../../src/config/index.js';
import { CHECKS, failedCheck, formatDoctor, runDoctor, type DoctorPart } from '../../src/cli/doctor.js';
import { AppError } from '../../src/shared/app-error.js';

const env = (vars: Record<string, string> = {}): Env => loadEnv({ env: vars, envFile: null });

/** The parts of the real doctor named `names`, in its order. */
const parts = (...names: string[]): DoctorPart[] => CHECKS.filter((p) => names.includes(p.name));

describe('runDoctor', () => {
  it('names every part as the operator knows it, not by its function', () => {
    expect(CHECKS.map((p) => p.name)).toEqual([
      'redis',
      'llm',
      'templates',
      'board',
      'rhymix',
      'webhook',
      'imap',
      'inbox',
      'mail',
      'admin',
    ]);
  });

  it("shows a ConfigError as the part's FAIL line with its message and hint, not as a bug", async () => {
    // loadEnv refuses these at start-up; an Env built by hand (or a check reading more than
    // loadEnv validates) still reaches the checks, and must read as a setting to fix.
    const handMade: Env = {
      ...env(),
      RHYMIX_URL: 'https://board.example.kr/',
      IMAP_HOST: 'imap.example.org',
      WEBHOOK_URL: 'https://hook.example/x',
    };
    const results = await runDoctor(handMade, parts('rhymix', 'webhook', 'imap', 'inbox'));
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['rhymix', false],
      ['webhook', false],
      ['imap', false],
      ['inbox', true],
    ]);
    const [rhymix, webhook, imap] = results;
    expect(rhymix?.message).toMatch(/RHYMIX_MID: is unset[\s\S]*RHYMIX_USER[\s\S]*RHYMIX_PASSWORD/);
    expect(webhook?.message).toContain('WEBHOOK_SECRET: is unset');
    expect(imap?.message).toMatch(/IMAP_USER: unset while IMAP_HOST is set[\s\S]*IMAP_PASSWORD/);
    for (const r of results.slice(0, 3)) {
      expect(r.hint).toBe('fix these variables in the environment or in .env, then start again');
      expect(r.message).not.toContain('the check itself failed');
    }
    const text = formatDoctor(results);
    expect(text).toMatch(/^FAIL {2}rhymix {5}Configuration is invalid \(3 problems\):$/m);
    expect(text).not.toMatch(/check\w+Part|checkInbox|report this as a bug/);
    // The problems stay under their part's line.
    expect(text).toContain(`\n${' '.repeat(17)}  - RHYMIX_MID: is unset`);
  });

  it('keeps going after a failure, and says "bug" only for an unexpected error', async () => {
    const results = await runDoctor(env(), [
      {
        name: 'board',
        check: () =>
          Promise.reject(new AppError('BOARD_DOWN', 'operational', 'the board is down', { hint: 'wait' })),
      },
      { name: 'config', check: () => Promise.reject(new ConfigError([])) },
      { name: 'odd', check: () => Promise.reject(new TypeError('x is undefined')) },
      {
        name: 'fine',
        check: () => Promise.resolve({ name: 'fine', ok: true, message: 'all good', hint: null }),
      },
    ]);
    expect(results).toEqual([
      { name: 'board', ok: false, message: 'the board is down', hint: 'wait' },
      expect.objectContaining({
        name: 'config',
        ok: false,
        hint: expect.stringContaining('fix these variables') as unknown,
      }),
      {
        name: 'odd',
        ok: false,
        message: 'the check itself failed: TypeError: x is undefined',
        hint: 'report this as a bug',
      },
      { name: 'fine', ok: true, message: 'all good', hint: null },
    ]);
  });

  it('shows a folder it cannot use as a setup problem', () => {
    const err = Object.assign(new Error('EACCES: permission denied, mkdir /srv/x'), {
      code: 'EACCES',
      path: '/srv/x',
      syscall: 'mkdir',
    });
    const line = failedCheck('board', err);
    expect(line.message).toContain('cannot mkdir /srv/x: permission denied (EACCES)');
    expect(line.hint).toBeNull();
  });
});
