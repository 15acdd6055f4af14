import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { errnoOf } from '../shared/fs-errors.js';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';

/** Hands one email to the pipeline; resolves once it is safely queued. */
export type Deliver = (raw: Buffer, ref: string) => Promise<void>;

export interface DropFolderOptions {
  readonly dir: string;
  readonly pollMs: number;
  readonly logger: Logger;
  /**
   * A file is taken once it has not changed (size, mtime) for this long: a copy still being written
   * is left alone, a file renamed into the folder (already complete) goes at once. Default 50 ms.
   */
  readonly stableMs?: number;
}

/**
 * The embedded default inbox: `.eml` files dropped into a folder. A file is moved to
 * `processed/` only after `deliver` resolved (the email is in the queue), so a crash in between
 * delivers it again on the next start and the queue's job ids keep that from doing anything twice.
 * Files are never deleted. File-system events make pickup quick; a polling scan catches anything
 * the events miss (network file systems, editors that write in place).
 */
export class DropFolder {
  private readonly options: DropFolderOptions;
  private readonly deliver: Deliver;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  private closed = false;
  /** What each file looked like when first seen unchanged: name → size, mtime and when. */
  private readonly seen = new Map<string, { size: number; mtimeMs: number; at: number }>();
  /** Files that are not .eml, already mentioned in the log once. */
  private readonly ignored = new Set<string>();

  constructor(options: DropFolderOptions, deliver: Deliver) {
    this.options = options;
    this.deliver = deliver;
  }

  get processedDir(): string {
    return path.join(this.options.dir, 'processed');
  }

  async start(): Promise<void> {
    await mkdir(this.processedDir, { recursive: true });
    this.watcher = watch(this.options.dir, () => {
      void this.scan();
    });
    this.watcher.on('error', (err) => {
      this.options.logger.warn({ err }, 'drop folder watch failed; polling continues');
    });
    this.timer = setInterval(() => void this.scan(), this.options.pollMs);
    this.timer.unref();
    this.options.logger.info(
      { dir: path.resolve(this.options.dir) },
      'watching the drop folder for .eml files',
    );
    await this.scan();
  }

  /** Deliver every settled `.eml` file now. Concurrent calls coalesce into one more pass. */
  scan(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.scanning !== null) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = this.scanOnce()
      .catch((err: unknown) => {
        this.options.logger.error({ err }, 'drop folder scan failed; will try again');
      })
      .finally(() => {
        this.scanning = null;
        if (this.rescan) {
          this.rescan = false;
          void this.scan();
        }
      });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const all = await readdir(this.options.dir, { withFileTypes: true });
    // Said once per name: an operator who saved a report as .txt otherwise waits for nothing.
    for (const entry of all) {
      if (!entry.isFile() || entry.name.toLowerCase().endsWith('.eml') || entry.name.startsWith('.'))
        continue;
      if (this.ignored.has(entry.name)) continue;
      this.ignored.add(entry.name);
      this.options.logger.info(
        { file: entry.name },
        'not an .eml file: left alone in the inbox folder (rename it to .eml to have it read)',
      );
    }
    const names = all
      .filter((e) => e.name.toLowerCase().endsWith('.eml'))
      .map((e) => e.name)
      .sort();
    const stableMs = this.options.stableMs ?? 50;
    let waiting = false;
    for (const name of names) {
      if (this.closed) return;
      const file = path.join(this.options.dir, name);
      const info = await stat(file).catch(() => null); // gone since readdir: another process took it
      if (info === null || !info.isFile()) continue;
      const before = this.seen.get(name);
      const now = Date.now();
      // A file last written more than stableMs ago (saved elsewhere, then moved in) goes at once.
      const settled = before === undefined && now - info.mtimeMs >= stableMs;
      if (
        !settled &&
        (before === undefined || before.size !== info.size || before.mtimeMs !== info.mtimeMs)
      ) {
        this.seen.set(name, { size: info.size, mtimeMs: info.mtimeMs, at: now });
        waiting = true;
        continue;
      }
      if (!settled && before !== undefined && now - before.at < stableMs) {
        waiting = true;
        continue;
      }
      this.seen.delete(name);
      await this.deliverFile(file, name);
    }
    for (const name of this.seen.keys()) if (!names.includes(name)) this.seen.delete(name);
    if (waiting) {
      // Look again once the files seen changing have had time to settle.
      await new Promise((r) => setTimeout(r, stableMs).unref());
      this.rescan = true;
    }
  }

  private async deliverFile(file: string, name: string): Promise<void> {
    const log = this.options.logger.child({ file: name });
    const raw = await readFile(file).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return null; // another isw-ko process on this folder took it
      throw err;
    });
    if (raw === null) return;
    try {
      await this.deliver(raw, name);
    } catch (err) {
      log.warn({ err }, 'could not queue the email; it stays in the inbox and is tried again');
      return;
    }
    try {
      await rename(
        file,
        path.join(this.processedDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}`),
      );
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      // Another process watching this folder queued it too and moved it first: the same email
      // makes the same job, so it is processed once either way.
      log.debug('email queued; another process had already moved it to processed/');
      return;
    }
    log.info('email queued and moved to processed/');
  }

  /** Stop watching; waits for a scan in progress. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.scanning;
  }
}
