import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's own directory (where package.json, templates/ and prompts/ are), found from this
 * file rather than the working directory, so `isw-ko` works when started from anywhere — from
 * src/ under tsx and from dist/src/ when compiled.
 */
export const PROJECT_ROOT: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** The shipped templates/ and prompts/ directories. */
export const DEFAULT_TEMPLATES_DIR = path.join(PROJECT_ROOT, 'templates');
export const DEFAULT_PROMPTS_DIR = path.join(PROJECT_ROOT, 'prompts');
