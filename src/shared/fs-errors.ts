import path from 'node:path';

/**
 * File-system error codes (errno) of a path that cannot work until the operator fixes it: wrong
 * owner or mode, a read-only mount, a file where a folder should be. Others (ENOSPC, EIO, EMFILE)
 * may pass by themselves, so callers retry them.
 */
export const CONFIG_ERRNOS: ReadonlySet<string> = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'ENAMETOOLONG',
  'ELOOP',
]);

/** The errno code of a Node system error (`EACCES`…), or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  return err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    /^E[A-Z0-9]+$/.test(err.code)
    ? err.code
    : undefined;
}

const WHAT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENOENT: 'it does not exist',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'the path loops through symbolic links',
  EMFILE: 'too many open files',
};

/** What an errno code means, in words ("permission denied (EACCES)"). */
export function errnoText(code: string): string {
  return `${WHAT[code] ?? 'failed'} (${code})`;
}

/**
 * A file-system failure as one line an operator can act on, e.g. "cannot open data/token-secret:
 * permission denied (EACCES) — …"; null when `err` is not a file-system error with a path.
 * Start-up reports these instead of a stack trace: the fix is the folder's owner or DATA_DIR.
 */
export function describeFileError(err: unknown): string | null {
  const code = errnoOf(err);
  const file = err instanceof Error && 'path' in err && typeof err.path === 'string' ? err.path : undefined;
  if (code === undefined || file === undefined) return null;
  const syscall = 'syscall' in (err as object) ? String((err as { syscall: unknown }).syscall) : 'use';
  const uid = process.getuid?.();
  const user = uid === undefined ? 'this user' : `this user (uid ${uid})`;
  const settings = 'DATA_DIR (or INBOX_DIR, BOARD_DIR, OUTBOX_DIR)';
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? `give ${user} write access to ${path.dirname(file)}, or point ${settings} at a folder it can write`
      : code === 'ENOSPC' || code === 'EDQUOT'
        ? 'free some space, or point DATA_DIR at another disk'
        : CONFIG_ERRNOS.has(code)
          ? `point ${settings} at a writable folder`
          : 'check the path and the settings that name it';
  return `cannot ${syscall} ${file}: ${errnoText(code)} — ${hint}`;
}
