// CLI `subscribers add` keeping an existing subscriber's mode and name when left out, and `subscribers import` failing (exit code 1) on rejected rows after importing the rest, against a real redis-server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerSubscriberCommands, type NotifyCliContext } from '../../src/cli/subscribers.js';
import { loadEnv, type Env } from '../../src/config/index.js';
import { SubscriberStore } from '../../src/notify/subscribers.js';
import { isAppError } from '../../src/shared/app-error.js';
import { quietLogger, TEST_SECRET } from '../support/notify-fixtures.js';
import { freshPrefix, startTestRedis, type TestRedis } from '../support/redis.js';

let server: TestRedis;
let redis: Redis;
let dir: string;
let env: Env;
let out: string;
const NOW = Date.parse('2025-03-03T00:00:00Z');

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-cli-subs-'));
});
afterAll(async () => {
  await redis.quit();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  env = loadEnv({
    env: {
      REDIS_URL: server.url,
      REDIS_PREFIX: freshPrefix('cli-subs'),
      DATA_DIR: dir,
      TOKEN_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
    },
    envFile: null,
  });
  out = '';
});

function program(): Command {
  const ctx: NotifyCliContext = {
    env: () => env,
    write: (text) => {
      out += text;
    },
    logger: quietLogger,
    clock: () => NOW,
  };
  const p = new Command('isw-ko').exitOverride();
  registerSubscriberCommands(p, ctx);
  return p;
}

async function run(...args: string[]): Promise<string> {
  const before = out.length;
  await program().parseAsync(['node', 'isw-ko', ...args]);
  return out.slice(before);
}

/** A command that must fail with an AppError (which `main` turns into exit code 1). */
async function runFailing(...args: string[]): Promise<{ output: string; code: string; message: string }> {
  const before = out.length;
  try {
    await program().parseAsync(['node', 'isw-ko', ...args]);
  } catch (err) {
    if (!isAppError(err)) throw err;
    return { output: out.slice(before), code: err.code, message: err.message };
  }
  throw new Error(`isw-ko ${args.join(' ')} succeeded`);
}

describe('subscribers add', () => {
  it('keeps an existing subscriber’s mode and name when they are left out; daily is for new ones', async () => {
    expect(
      await run('subscribers', 'add', 'erin@example.org', '--mode', 'immediate', '--name', 'Erin'),
    ).toMatch(/^added: active +immediate +erin@example\.org \(Erin\)/);
    expect(await run('subscribers', 'add', 'erin@example.org')).toMatch(
      /^unchanged: active +immediate +erin@example\.org \(Erin\)/,
    );
    expect(await run('subscribers', 'add', 'erin@example.org', '--mode', 'daily')).toMatch(
      /^updated: active +daily +erin@example\.org \(Erin\)/,
    );
    expect(await run('subscribers', 'add', 'new@example.org')).toMatch(
      /^added: active +daily +new@example\.org/,
    );
  });

  it('says so in its help', () => {
    const add = program()
      .commands.find((c) => c.name() === 'subscribers')
      ?.commands.find((c) => c.name() === 'add');
    const help = (add?.helpInformation() ?? '').replace(/\s+/g, ' ');
    expect(help).toContain('left out: daily for a new subscriber, an existing one keeps theirs');
    expect(help).toContain('left out: an existing name is kept');
    expect(help).not.toContain('default: "daily"');
  });
});

describe('subscribers import', () => {
  it('fails when rows were rejected, after importing the good ones and saying so', async () => {
    const csv = path.join(dir, 'mixed.csv');
    writeFileSync(
      csv,
      'email,mode\r\na@example.org,daily\r\nb@example.org,immediate\r\nbroken,daily\r\nc@example.org,weekly\r\n',
    );
    const failed = await runFailing('subscribers', 'import', csv);
    expect(failed.code).toBe('IMPORT_ROWS_REJECTED');
    expect(failed.message).toBe('2 of 4 rows rejected (listed above); the other 2 rows were imported');
    expect(failed.output).toContain('added 2, updated 0, unchanged 0, rejected 2');
    expect(failed.output).toContain('line 4: broken — invalid address');
    expect(failed.output).toContain('line 5: c@example.org — unknown mode "weekly"');
    expect(await run('subscribers', 'list')).toContain('2 listed; 2 in all, active: 1 immediate, 1 daily');
    // A dry run fails alike, and writes nothing.
    const dry = await runFailing('subscribers', 'import', csv, '--dry-run');
    expect(dry.message).toBe(
      '2 of 4 rows rejected (listed above); the other 2 rows would be imported (dry run, nothing written)',
    );
  });

  it('succeeds when nothing was rejected, and counts one row as one row', async () => {
    const one = path.join(dir, 'one.csv');
    writeFileSync(one, 'email\r\nd@example.org\r\n');
    expect(await run('subscribers', 'import', one)).toBe(
      `${one}: 1 row (UTF-8)\n  added 1, updated 0, unchanged 0, rejected 0\n`,
    );
    writeFileSync(one, 'email\r\nd@example.org\r\nbad\r\n');
    expect((await runFailing('subscribers', 'import', one)).message).toBe(
      '1 of 2 rows rejected (listed above); the other 1 row was imported',
    );
  });

  it('shows an opted-out subscriber’s unconfirmed request to come back in the list', async () => {
    await run('subscribers', 'add', 'alice@example.org', '--name', 'Alice');
    await run('subscribers', 'remove', 'alice@example.org');
    // Someone types her address into the public form.
    await new SubscriberStore(redis, env.REDIS_PREFIX, () => NOW).requestSubscription({
      address: 'alice@example.org',
      mode: 'immediate',
    });
    expect(await run('subscribers', 'list')).toMatch(
      /^unsubscribed +daily +alice@example\.org \(Alice\) .* asked on the web 2025-03-03 to get immediate again; not confirmed yet$/m,
    );
    const csv = path.join(dir, 'alice.csv');
    writeFileSync(csv, 'email\r\nalice@example.org\r\n');
    expect((await runFailing('subscribers', 'import', csv)).output).toContain(
      'opted out: unsubscribed; re-adding needs --force',
    );
  });
});
