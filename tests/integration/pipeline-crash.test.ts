// Covers crash safety: a worker process SIGKILLed in the middle of `summarize` loses nothing and, after restart, posts exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readFixture, REPO_ROOT } from '../support/fixtures.js';
import { startHarness, waitFor, type PipelineHarness } from '../support/pipeline.js';

let h: PipelineHarness;
let child: ChildProcess | null = null;
beforeEach(async () => {
  // A short lock so the dead worker's job is taken over in seconds, not minutes.
  h = await startHarness({ JOB_LOCK_MS: '1500', JOB_STALLED_CHECK_MS: '500' });
});
afterEach(async () => {
  child?.kill('SIGKILL');
  await h.close();
});

it('recovers a summarize job whose worker was killed, and posts it once', async () => {
  h.llm.enqueue('hang'); // the first summary request never answers: the worker is mid-job when killed
  const producer = await h.start({ workers: [] });
  child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/isw-ko.js'), 'worker', '--queues', 'ingest,summarize,publish'],
    {
      cwd: h.dir,
      env: { ...process.env, ...h.vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

  await producer.pipeline.enqueueEmail(readFixture('isw-roca-2025-03-02.eml'), { kind: 'cli', ref: 'crash' });
  await waitFor(`the worker to ask the LLM (worker output: ${output.slice(-500)})`, () =>
    h.llm.requests.some((r) => r.path.endsWith('/chat/completions')),
  );
  const exited = new Promise((resolve) => child?.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  expect(h.posts()).toHaveLength(0);

  await h.start(); // a new worker: takes the stalled job over once the dead worker's lock expires
  await waitFor('the post after the restart', () => h.posts().length === 1);
  await waitFor('the queues to drain', async () => {
    const c = await producer.pipeline.counts();
    return (
      (c.summarize.active ?? 0) +
        (c.summarize.waiting ?? 0) +
        (c.publish.active ?? 0) +
        (c.publish.waiting ?? 0) ===
      0
    );
  });
  expect(h.posts()).toHaveLength(1);
  const failed = await producer.pipeline.queues.summarize.getFailed();
  expect(failed).toHaveLength(0);
});
