#!/usr/bin/env node
// Runs the compiled CLI when `npm run build` has made dist/, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `isw-ko needs Node.js 22 or newer; this is Node ${process.versions.node}.\n` +
      'Run it through npm (`npm start`, `npm run isw-ko -- <command>`): `npm install` puts Node 24 in\n' +
      'node_modules/.bin for the npm scripts. Or install Node 24 LTS from https://nodejs.org.\n',
  );
  process.exit(1);
}
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
if (existsSync(compiled)) {
  await import(compiled);
} else {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport('../src/cli/bin.ts', import.meta.url);
}
