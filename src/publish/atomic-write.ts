import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';

/**
 * Write a file so that readers (and a crash) see either the old content or the new, never half:
 * write a temporary file beside it, flush it to disk, then rename it over the target — rename(2)
 * within one directory is atomic on POSIX file systems. The temporary file is removed on failure.
 * `durable: false` skips the flush, for files that are rebuilt from others when lost (the index).
 */
export async function writeFileAtomic(
  file: string,
  data: string,
  options: { durable?: boolean } = {},
): Promise<void> {
  // Unique per process and call, so two writers of the same file never share a temporary file.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(data, 'utf8');
      // Without fsync the rename can reach the disk before the data and a power cut leaves an empty file.
      if (options.durable !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
