// Covers `isw-ko run` on embedded defaults as a terminal sees it: Ctrl-C (SIGINT to the whole process group) lets the job in flight finish before the embedded redis-server stops; a second Ctrl-C exits at once and still stops redis; a DATA_DIR it cannot write is one clear line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIXTURES_DIR, REPO_ROOT } from '../support/fixtures.js';
import { startLlmServer, type LlmServer } from '../support/llm-server.js';
import { TEST_API_KEY, waitFor } from '../support/pipeline.js';

let dir: string;
let llm: LlmServer;
let child: ChildProcess | null = null;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-run-'));
  llm = await startLlmServer();
});
afterEach(async () => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * `isw-ko run` on embedded defaults (no REDIS_URL) as the leader of its own process group, like a
 * command started from a shell: signals sent to the group reach everything it started in it.
 */
async function runOnEmbeddedDefaults(): Promise<{
  output: () => string;
  exited: Promise<number | null>;
  signalGroup: (signal: NodeJS.Signals) => void;
  signalProcess: (signal: NodeJS.Signals) => void;
  redisPid: number;
}> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: path.join(dir, 'data'),
    INBOX_DIR: path.join(dir, 'inbox'),
    INBOX_POLL_MS: '100',
    OPENAI_BASE_URL: llm.url,
    OPENAI_API_KEY: TEST_API_KEY,
    LLM_MODEL: 'test-model',
    LLM_TIMEOUT_MS: '20000',
    BOARD_RESOLVE_LINKS: 'false',
    ADMIN_LISTEN: '127.0.0.1:0',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  };
  delete env['REDIS_URL'];
  const started = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), 'run'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, as a shell gives a command
  });
  child = started;
  let output = '';
  started.stdout.on('data', (d: Buffer) => (output += d.toString()));
  started.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => started.once('exit', resolve));
  await waitFor(
    'isw-ko run to listen',
    () => {
      if (started.exitCode !== null) throw new Error(`isw-ko run exited early:\n${output}`);
      return output.includes('HTTP server listening');
    },
    30_000,
  );
  const redisPid = Number(/"pid":(\d+)[^\n]*embedded redis-server started/.exec(output)?.[1]);
  expect(redisPid).toBeGreaterThan(0);
  const pid = started.pid ?? 0;
  return {
    output: () => output,
    exited,
    signalGroup: (signal) => process.kill(-pid, signal),
    signalProcess: (signal) => process.kill(pid, signal),
    redisPid,
  };
}

/** Drop a fixture into the inbox folder the way the README asks (saved aside, then moved in). */
async function drop(name: string): Promise<void> {
  const aside = path.join(dir, name);
  await copyFile(path.join(FIXTURES_DIR, name), aside);
  await rename(aside, path.join(dir, 'inbox', name));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('finishes the summary in flight on Ctrl-C, then stops its redis-server', async () => {
  const run = await runOnEmbeddedDefaults();
  llm.enqueue({ slow: 1500 });
  await drop('isw-roca-2025-03-02.eml');
  await waitFor('the summary request', () => llm.requests.some((r) => r.path.endsWith('/chat/completions')));

  run.signalGroup('SIGINT'); // what a terminal does on Ctrl-C: the whole foreground group
  expect(await run.exited).toBe(0);
  const output = run.output();
  expect(output).toContain('shutting down: finishing current jobs');
  // The job in flight was recorded: redis was still there when its answer came back.
  expect(output.indexOf('"msg":"summary stored"')).toBeGreaterThan(output.indexOf('shutting down'));
  expect(output).not.toMatch(/redis connection error|lost its redis connection/);
  expect(output).toContain('"msg":"stopped"');
  await waitFor('the embedded redis-server to exit', () => !alive(run.redisPid), 5000);
});

it('takes a Ctrl-C delivered twice (terminal and npm) as one, and exits at once on a second press', async () => {
  const run = await runOnEmbeddedDefaults();
  llm.enqueue('hang');
  await drop('isw-roca-2025-03-02.eml');
  await waitFor('the summary request', () => llm.requests.some((r) => r.path.endsWith('/chat/completions')));

  // One press under `npm start`: the terminal signals the group, and npm forwards it to its child.
  run.signalGroup('SIGINT');
  run.signalProcess('SIGINT');
  await waitFor('the shutdown to begin', () => run.output().includes('shutting down'));
  // Still waiting for the hanging summary, not gone: the repeat was the same press.
  await new Promise((r) => setTimeout(r, 1200)); // a person's second press comes later than 1 s
  expect(child?.exitCode).toBeNull();
  run.signalGroup('SIGINT');
  expect(await run.exited).toBe(130);
  expect(run.output().match(/shutting down: finishing current jobs/g)).toHaveLength(1);
  expect(run.output()).toContain('second signal: exiting now');
  await waitFor('the embedded redis-server to exit', () => !alive(run.redisPid), 5000);
});

it('says which folder it cannot write, and how to fix it, instead of a stack trace', async () => {
  const notAFolder = path.join(dir, 'a-file');
  await writeFile(notAFolder, 'x');
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: path.join(notAFolder, 'data') };
  delete env['REDIS_URL'];
  const started = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), 'run'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  started.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => started.once('exit', resolve));
  expect(code).toBe(1);
  expect(stderr).toContain(`cannot mkdir ${path.join(notAFolder, 'data')}`);
  expect(stderr).toContain('(ENOTDIR) — point DATA_DIR');
  expect(stderr).not.toContain('a bug');
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
});
