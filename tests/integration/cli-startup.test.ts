// Covers how the isw-ko binary starts and fails: a command that only queues works while the Rhymix board is down; a board that refuses `run` stops the embedded redis-server again and exits; an unreachable REDIS_URL fails with the fix instead of retrying forever; unreadable ingest files, a bad or busy --listen.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { answersPing, freePort } from '../../src/shared/redis-server.js';
import { FIXTURES_DIR, REPO_ROOT } from '../support/fixtures.js';
import { startLlmServer, type LlmServer } from '../support/llm-server.js';
import { TEST_API_KEY } from '../support/pipeline.js';

let dir: string;
let llm: LlmServer;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-startup-'));
  llm = await startLlmServer();
});
afterEach(async () => {
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run the real binary on embedded defaults plus `vars`; resolves with its exit code, output and time. */
async function isw(
  args: string[],
  vars: Record<string, string>,
): Promise<{ code: number | null; output: string; ms: number }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: path.join(dir, 'data'),
    INBOX_DIR: path.join(dir, 'inbox'),
    OPENAI_BASE_URL: llm.url,
    OPENAI_API_KEY: TEST_API_KEY,
    LLM_MODEL: 'test-model',
    ADMIN_LISTEN: '127.0.0.1:0',
    LOG_FORMAT: 'json',
    ...vars,
  };
  if (vars['REDIS_URL'] === undefined) delete env['REDIS_URL'];
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), ...args], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000); // a hang fails the test, not the run
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  return { code, output, ms: Date.now() - started };
}

/** Rhymix settings pointing at a port where nothing listens: the board is down. */
async function boardDown(): Promise<Record<string, string>> {
  return {
    RHYMIX_URL: `http://127.0.0.1:${await freePort()}/`,
    RHYMIX_MID: 'isw',
    RHYMIX_USER: 'bot',
    RHYMIX_PASSWORD: 'a password',
  };
}

it('answers `jobs` while the Rhymix board is down: only a process that publishes logs in to it', async () => {
  const result = await isw(['jobs'], await boardDown());
  expect(result.code, result.output).toBe(0);
  expect(result.output).toMatch(/^publish +waiting 0/m);
  expect(result.output).not.toContain('BOARD_UNAVAILABLE');
});

it('stops the embedded redis-server again and exits when `run` cannot log in to the board', async () => {
  const result = await isw(['run'], await boardDown());
  expect(result.code).toBe(1);
  expect(result.output).toContain('BOARD_UNAVAILABLE');
  expect(result.output).toContain('embedded redis-server started');
  const socket = path.join(dir, 'data', 'redis', 'redis.sock');
  expect(existsSync(socket) && (await answersPing({ path: socket }))).toBe(false);
});

it('fails with the fix when REDIS_URL does not answer, instead of retrying for ever', async () => {
  const result = await isw(['jobs'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}/0` });
  expect(result.code).toBe(1);
  expect(result.output).toContain('REDIS_UNREACHABLE');
  expect(result.output).toContain('did not answer within 15 s');
  expect(result.output).toContain('fix REDIS_URL');
  expect(result.ms).toBeLessThan(30_000);
});

it('ingests the files it can read, says why it skipped the others, exits 1, and logs only warnings', async () => {
  const good = path.join(FIXTURES_DIR, 'isw-roca-2025-03-02.eml');
  const missing = path.join(dir, 'no-such.eml');
  const result = await isw(['ingest', dir, missing, good], {});
  expect(result.code).toBe(1);
  expect(result.output).toContain(`${dir}: not read: it is a folder, not a file (EISDIR)`);
  expect(result.output).toContain(`${missing}: not read: it does not exist (ENOENT)`);
  expect(result.output).toMatch(
    new RegExp(`${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: queued as ingest-`),
  );
  expect(result.output).not.toContain('unexpected error');
  // A one-shot command's answer is not buried under "pipeline started … stopped" info lines.
  expect(result.output).not.toContain('"level":30');
});

it('says what is wrong with --listen, and which address is taken, instead of a stack trace', async () => {
  const bad = await isw(['worker', '--queues', 'publish', '--listen', 'nonsense'], {});
  expect(bad.code).toBe(1);
  expect(bad.output).toContain('--listen takes host:port, not "nonsense"');

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const busy = await isw(['worker', '--queues', 'publish', '--listen', `127.0.0.1:${port}`], {});
    expect(busy.code).toBe(1);
    expect(busy.output).toContain(`LISTEN_FAILED: cannot listen on 127.0.0.1:${port} (--listen)`);
    expect(busy.output).toContain('already in use');
    expect(busy.output).not.toContain('unexpected error');
    // Checked before anything starts: no workers run beside the process that holds the port.
    expect(busy.output).not.toContain('pipeline started');
    const run = await isw(['run'], { ADMIN_LISTEN: `127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    expect(run.output).toContain(`cannot listen on 127.0.0.1:${port} (ADMIN_LISTEN)`);
    expect(run.output).not.toContain('pipeline started');
    expect(run.output).not.toContain('embedded redis-server started');
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

it('prints its version', async () => {
  const result = await isw(['--version'], {});
  expect(result.code).toBe(0);
  expect(result.output.trim()).toMatch(/^isw-ko \d+\.\d+\.\d+ \(Node\.js \d+\.\d+\.\d+\)$/);
});
