// Covers how file-system failures are told to the operator: which errno codes need their fix, and the one-line message start-up prints instead of a stack trace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_ERRNOS, describeFileError, errnoOf } from '../../src/shared/fs-errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-fserr-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A real Node system error with errno code, syscall and path, as fs throws it. */
function systemError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} '${file}'`), { code, syscall, path: file });
}

describe('errnoOf', () => {
  it('reads the code of a real fs error, and nothing else', async () => {
    const err: unknown = await readFile(path.join(dir, 'missing')).catch((e: unknown) => e);
    expect(errnoOf(err)).toBe('ENOENT');
    expect(errnoOf(new Error('plain'))).toBeUndefined();
    // AppError codes are not errno codes.
    expect(errnoOf(Object.assign(new Error('x'), { code: 'BOARD_CORRUPT' }))).toBeUndefined();
    expect(errnoOf('EACCES')).toBeUndefined();
  });
});

describe('describeFileError', () => {
  it('names the path, the reason and the folder to fix for a permission problem', () => {
    const line = describeFileError(systemError('EACCES', 'open', '/srv/isw-ko/data/token-secret'));
    expect(line).toContain('cannot open /srv/isw-ko/data/token-secret: permission denied (EACCES)');
    expect(line).toContain('write access to /srv/isw-ko/data');
    expect(line).toContain('DATA_DIR');
    if (process.getuid !== undefined) expect(line).toContain(`uid ${process.getuid()}`);
  });

  it('says what to do about a full disk, and about a path that is a file', async () => {
    expect(describeFileError(systemError('ENOSPC', 'write', '/srv/data/board/index.html'))).toContain(
      'the disk is full (ENOSPC) — free some space',
    );
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const err: unknown = await mkdir(path.join(file, 'board'), { recursive: true }).catch((e: unknown) => e);
    expect(describeFileError(err)).toMatch(
      /^cannot mkdir .*a-file\/board: .*\(ENOTDIR\) — point DATA_DIR .* at a writable folder$/,
    );
  });

  it('leaves errors without a path, and non-fs errors, to the caller', () => {
    expect(describeFileError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(describeFileError(new Error('plain'))).toBeNull();
    expect(describeFileError(null)).toBeNull();
  });

  it('treats the codes an operator must fix as configuration errors', () => {
    for (const code of ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR']) expect(CONFIG_ERRNOS.has(code)).toBe(true);
    for (const code of ['ENOSPC', 'EIO', 'EMFILE']) expect(CONFIG_ERRNOS.has(code)).toBe(false);
  });
});
