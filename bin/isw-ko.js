#!/usr/bin/env node
// Runs the compiled CLI when `npm run build` has made dist/, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport('../src/cli/bin.ts', import.meta.url);
}
