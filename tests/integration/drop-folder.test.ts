// Covers the drop-folder inbox: complete files go at once, files still being written wait, failed deliveries stay, nothing is deleted; files that are not .eml are mentioned once; two watchers can share a folder.
import { appendFile, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DropFolder } from '../../src/inbox/drop-folder.js';
import { createLogger } from '../../src/shared/logger.js';
import { waitFor } from '../support/pipeline.js';

let dir: string;
let folder: DropFolder | null = null;
const logger = createLogger({ level: 'silent', format: 'json' });
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'isw-ko-drop-'));
});
afterEach(async () => {
  await folder?.close();
  await rm(dir, { recursive: true, force: true });
});

it('delivers a complete file at once, waits for one still being written, and moves both aside', async () => {
  const delivered: { ref: string; bytes: number }[] = [];
  folder = new DropFolder({ dir, pollMs: 100, logger, stableMs: 150 }, (raw, ref) => {
    delivered.push({ ref, bytes: raw.length });
    return Promise.resolve();
  });
  await folder.start();
  const old = path.join(dir, 'saved-earlier.eml');
  await writeFile(old, 'From: a@example.org\r\n\r\nbody\r\n');
  const past = new Date(Date.now() - 10_000);
  await utimes(old, past, past);
  await waitFor('the complete file', () => delivered.some((d) => d.ref === 'saved-earlier.eml'), 5000);

  // A copy in progress: chunks arrive 50 ms apart, the file must not be taken half-written.
  const growing = path.join(dir, 'copying.eml');
  await writeFile(growing, 'From: a@example.org\r\n\r\n');
  for (let i = 0; i < 5; i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(growing, `line ${i}\r\n`);
  }
  const full = (await readdir(dir)).includes('copying.eml')
    ? 'From: a@example.org\r\n\r\n'.length + 5 * 'line 0\r\n'.length
    : 0;
  await waitFor('the copied file', () => delivered.some((d) => d.ref === 'copying.eml'), 5000);
  expect(delivered.find((d) => d.ref === 'copying.eml')?.bytes).toBe(full);
  expect(delivered.filter((d) => d.ref === 'copying.eml')).toHaveLength(1);
  expect((await readdir(path.join(dir, 'processed'))).length).toBe(2);
});

it('keeps a file whose delivery failed and delivers it on a later scan', async () => {
  let fail = true;
  const delivered: string[] = [];
  folder = new DropFolder({ dir, pollMs: 100, logger, stableMs: 20 }, (_raw, ref) => {
    if (fail) return Promise.reject(new Error('redis is down'));
    delivered.push(ref);
    return Promise.resolve();
  });
  await folder.start();
  await writeFile(path.join(dir, 'x.eml'), 'From: a@example.org\r\n\r\nbody\r\n');
  await new Promise((r) => setTimeout(r, 400));
  expect(await readdir(dir)).toContain('x.eml');
  fail = false;
  await waitFor('the retried delivery', () => delivered.includes('x.eml'), 5000);
  expect(await readdir(dir)).not.toContain('x.eml');
});

/** A logger that keeps its JSON lines, to check what an operator would read. */
function recordingLogger(): {
  logger: ReturnType<typeof createLogger>;
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const logger = createLogger(
    { level: 'debug', format: 'json' },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    }),
  );
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

it('says once that a file which is not .eml is left alone', async () => {
  const { logger: log, lines } = recordingLogger();
  folder = new DropFolder({ dir, pollMs: 50, logger: log, stableMs: 20 }, () => Promise.resolve());
  await folder.start();
  await writeFile(path.join(dir, 'saved-as.txt'), 'From: a@example.org\r\n\r\nbody\r\n');
  await folder.scan();
  await folder.scan();
  await new Promise((r) => setTimeout(r, 200)); // a few polls more
  const said = lines().filter((l) => l['file'] === 'saved-as.txt');
  expect(said).toHaveLength(1);
  expect(said[0]?.['msg']).toContain('rename it to .eml');
  expect(await readdir(dir)).toContain('saved-as.txt');
});

it('shares a folder with another watcher: each email is delivered, moved once, and nothing is logged as an error', async () => {
  const { logger: log, lines } = recordingLogger();
  const delivered: string[] = [];
  const deliver = (_raw: Buffer, ref: string): Promise<void> => {
    delivered.push(ref);
    return new Promise((r) => setTimeout(r, 5)); // both take their time, so they race
  };
  folder = new DropFolder({ dir, pollMs: 20, logger: log, stableMs: 0 }, deliver);
  const other = new DropFolder({ dir, pollMs: 20, logger: log, stableMs: 0 }, deliver);
  await Promise.all([folder.start(), other.start()]);
  try {
    for (let i = 0; i < 20; i += 1)
      await writeFile(path.join(dir, `m${i}.eml`), `From: a@example.org\r\n\r\n${i}\r\n`);
    await waitFor(
      'every file moved',
      async () => (await readdir(path.join(dir, 'processed'))).length === 20,
      5000,
    );
  } finally {
    await other.close();
  }
  expect(new Set(delivered).size).toBe(20);
  expect(lines().filter((l) => Number(l['level']) >= 50)).toEqual([]);
});
