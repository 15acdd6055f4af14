import cliProgress from 'cli-progress';
import type { BackfillProgress } from './backfill.js';

export interface ProgressBar {
  /** Pass as `onProgress` to `runBackfill`. */
  readonly update: (progress: BackfillProgress) => void;
  readonly stop: () => void;
}

/**
 * A terminal progress bar for `isw-ko backfill`: count, rate, ETA, and what became of the
 * messages so far. Written to stderr so stdout stays clean for the summary.
 */
export function createBackfillProgressBar(stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        'backfill [{bar}] {value}/{total} | {rate} msg/s | ETA {eta_formatted} | queued {enqueued}, already {skipped}, held {held}, ignored {ignored}',
      etaBuffer: 50,
      hideCursor: true,
      // Not a TTY (CI, a log file): one line now and then instead of redraws.
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 5_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;
  return {
    update: (p) => {
      const seconds = (performance.now() - started) / 1000;
      const payload = {
        rate: seconds > 0 ? (p.done / seconds).toFixed(1) : '0.0',
        enqueued: p.enqueued,
        skipped: p.skipped,
        held: p.held,
        ignored: p.ignored,
      };
      if (!running) {
        bar.start(p.total, p.done, payload);
        running = true;
        return;
      }
      bar.setTotal(p.total);
      bar.update(p.done, payload);
    },
    stop: () => {
      if (running) bar.stop();
      running = false;
    },
  };
}
