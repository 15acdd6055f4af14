// Covers the backfill progress bar: count, rate and outcome counters written to a (non-TTY) stream.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBackfillProgressBar } from '../../src/inbox/backfill-progress.js';

describe('createBackfillProgressBar', () => {
  it('writes the first and last state of the run to a non-TTY stream', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const stream = Object.assign(sink, { isTTY: false }) as unknown as NodeJS.WriteStream;
    const bar = createBackfillProgressBar(stream);
    for (let done = 0; done <= 4; done += 1) {
      bar.update({
        total: 4,
        done,
        enqueued: done,
        skipped: 0,
        held: done === 4 ? 1 : 0,
        ignored: 0,
        deferred: 0,
      });
    }
    bar.stop();
    bar.stop(); // safe twice
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^backfill \[.*\] 0\/4 \| [\d.]+ msg\/s \| ETA/);
    expect(lines.at(-1)).toMatch(/ 4\/4 \| [\d.]+ msg\/s .*queued 4, already 0, held 1, ignored 0$/);
  });
});
